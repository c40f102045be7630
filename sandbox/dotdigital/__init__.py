"""Dotdigital API emulator (v2, Contacts v3, Insight data v3), at ``/dotdigital``.

Base URL for a client: ``http://127.0.0.1:<port>/dotdigital`` (real:
``https://r1-api.dotdigital.com``); ``GET /v2/account-info`` answers the
``ApiEndpoint`` a client should use from then on (this mount, built from the
request's ``Host``). Credentials: HTTP Basic with an API user starting with
``apiuser-sandbox`` and the password ``sandbox-password``; each user is its
own account. Errors: v2 answers ``{"message": "... ERROR_CODE"}``, v3
``{"errorCode": "contacts:...", "description", "details": [{item,
description}]}``.

Simplifications and spec quirks, documented here once:

- Rate limits are per-minute tiers (low: imports and bulk queries, medium:
  single-record writes, high: single-record reads), counted per endpoint;
  ``X-RateLimit-Reset`` is the Unix time the window resets, and a 429 adds
  ``Retry-After`` seconds.
- The published schemas of ``PATCH /contacts/v3/{identifier}/{value}`` and
  ``PUT /insightData/v3/import`` reject valid requests (an ``allOf`` whose
  branches each say ``additionalProperties: false``), and the single record
  ``PUT`` declares a string body; those operations are validated here with
  the spurious violations dropped.
- Imports (insight data) move NotStarted -> Processing -> Complete along the
  sandbox clock (``job_seconds``); records apply when the import completes.
"""

from .app import DotdigitalApp

App = DotdigitalApp

__all__ = ["App", "DotdigitalApp"]
