# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every webhook call must pass before it may change anything.

Kept apart from the controller so each rule reads on its own: the URL token
(constant time, and the same work whether the backend exists or not), the
body size, and the access-log filter that keeps tokens out of Odoo's log.
"""

import hmac
import logging
import re

# Klaviyo sends batches of a few events; Mailchimp one small form.
MAX_BODY_BYTES = 256 * 1024
TOKEN_IN_PATH = re.compile(r"(/esp_sync/webhook/\d+/)[^/?\s\"]+")


class WebhookRefused(Exception):
    """A call refused before any change: HTTP ``status``, a generic answer.

    ``reason`` is for the server log only; the caller learns nothing but the
    status and its standard phrase.
    """

    ANSWERS = {
        400: "Bad request",
        401: "Unauthorized",
        404: "Not found",
        409: "Already received",
        413: "Payload too large",
    }

    def __init__(self, status, reason=""):
        super().__init__(reason or self.ANSWERS[status])
        self.status = status
        self.reason = reason or self.ANSWERS[status]

    @property
    def answer(self):
        return self.ANSWERS[self.status]


def check_token(backend, token):
    """Raise 404 unless ``backend`` is active and ``token`` is its URL token.

    The comparison always runs, in constant time, so neither a wrong token
    nor an unknown or archived backend can be told apart by timing.
    """
    expected = (backend.sudo().webhook_secret if backend else "") or ""
    matches = hmac.compare_digest(
        (token or "").encode(), (expected or "\0" * 32).encode()
    )
    if not (backend and backend.active and expected and matches):
        raise WebhookRefused(404, "unknown backend or wrong token")


def check_size(httprequest):
    """Raise 413 when the declared body is larger than we ever accept."""
    length = httprequest.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise WebhookRefused(413, f"body of {length} bytes")


def read_body(httprequest):
    """The raw body (bytes), or the form Odoo already parsed (Mailchimp)."""
    check_size(httprequest)
    raw = httprequest.get_data()
    if len(raw) > MAX_BODY_BYTES:
        raise WebhookRefused(413, f"body of {len(raw)} bytes")
    # Form posts were parsed by Odoo before the route ran: their stream is
    # consumed, so hand the adapter the parsed form instead.
    return raw or httprequest.form.to_dict()


class RedactWebhookTokens(logging.Filter):
    """Replace webhook URL tokens in access-log lines by ``***``.

    Mailchimp can only call a URL, so its token sits in the path; Odoo's
    access log (the ``werkzeug`` logger) must not keep it. A reverse proxy
    keeps its own log: see readme/CONFIGURE.md.
    """

    def filter(self, record):
        if isinstance(record.msg, str) and "/esp_sync/webhook/" in record.msg:
            record.msg = TOKEN_IN_PATH.sub(r"\1***", record.msg)
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_PATH.sub(r"\1***", arg)
                if isinstance(arg, str) and "/esp_sync/webhook/" in arg
                else arg
                for arg in record.args
            )
        return True


def install_log_filter():
    """Add the redacting filter to the access log, once."""
    access_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactWebhookTokens) for f in access_log.filters):
        access_log.addFilter(RedactWebhookTokens())
