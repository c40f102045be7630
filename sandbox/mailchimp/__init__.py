"""Mailchimp Marketing API v3 emulator, mounted at ``/mailchimp``.

Base URL for a client: ``http://127.0.0.1:<port>/mailchimp`` (real:
``https://us1.api.mailchimp.com``); every path starts with ``/3.0``.
Credentials: an API key ``sandbox<anything>-us1`` as the Basic password (any
user) or as a Bearer token; each distinct key is its own account, which
starts with one audience ``aud00001`` ("Sandbox Audience"). Errors are
``application/problem+json`` like the real API's.

Simplifications, documented here once:

- Batch results: ``response_body_url`` points at ``/mailchimp/_results/{id}``,
  which serves a JSON list of ``{status_code, operation_id, response}``; the
  real one is a presigned URL to a tar.gz of JSON files with the same items.
- Webhook URLs are not verified with a GET when registered.
- Only the endpoints esp_sync uses exist (lists, members, merge fields, tags,
  member events, batch subscribe, e-commerce stores/customers/products/
  orders, batches, list webhooks); others answer 404.
- "10 concurrent connections per key" is counted per in-flight request.
- ``PUT .../members/{hash}`` creating a member requires ``status_if_new``
  (``status`` alone is refused); the live API then behaves erratically
  (members created "pending"), so the sandbox makes the mistake visible.
"""

from .app import MailchimpApp
from .common import DEFAULT_LIST_ID, subscriber_hash

App = MailchimpApp

__all__ = ["App", "DEFAULT_LIST_ID", "MailchimpApp", "subscriber_hash"]
