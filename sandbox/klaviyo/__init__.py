"""Emulated Klaviyo API (revision 2026-07-15), the parts esp_sync uses.

Mounted at ``/klaviyo``: a backend's base URL is ``<sandbox>/klaviyo``
instead of ``https://a.klaviyo.com``. Authentication is
``Authorization: Klaviyo-API-Key pk_sandbox...``; every distinct key is its
own account. Requests need a ``revision`` header. Bodies and errors follow
JSON:API (``application/vnd.api+json``).

Behaviour kept from the real API: profile upsert by id/email/external_id/
phone (null clears a field, properties merge), event de-duplication on
``unique_id`` per profile and metric, subscribing lifts ``UNSUBSCRIBE``,
``SPAM_REPORT`` and ``USER_SUPPRESSED`` suppressions, unsuppressing only
lifts ``USER_SUPPRESSED``, bulk profile imports are asynchronous jobs,
per-operation rate limits from the spec's ``x-klaviyo-ratelimit``.

ESP-side actions (``sb.action("klaviyo", name, email=...)``):
``unsubscribe``, ``suppress`` (``reason``: USER_SUPPRESSED, HARD_BOUNCE,
SPAM_REPORT, INVALID_EMAIL), ``confirm_opt_in``. They fire the registered
webhooks, signed as Klaviyo does: ``Klaviyo-Signature`` is the hex
HMAC-SHA256, keyed by the webhook's secret, of the raw body followed by the
``Klaviyo-Timestamp`` header value (see :func:`sign_webhook`).
"""

from .app import KlaviyoApp
from .common import iso, sign_webhook

App = KlaviyoApp

__all__ = ["App", "KlaviyoApp", "iso", "sign_webhook"]
