# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import http
from odoo.http import request

from ..providers import EspError
from .webhook_guard import WebhookRefused, check_token, install_log_filter, read_body

_logger = logging.getLogger(__name__)

install_log_filter()


class EspWebhookController(http.Controller):
    """ESP -> Odoo: unsubscribes and suppressions made at the ESP.

    Two doors, one path. ``/esp_sync/webhook/<id>/<token>`` (Mailchimp, which
    can only call a URL): the token is checked first, in constant time.
    ``/esp_sync/webhook/<id>`` (Klaviyo): no token in the URL, hence none in
    access logs; the signature over the body and timestamp is the proof, and
    the adapter checks it first. Then: body size, shape, replay, and only then
    a change, limited to the backend's company. Every refusal is a 4xx with a
    generic answer and one log line, never a traceback.
    """

    @http.route(
        "/esp_sync/webhook/<int:backend_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def esp_webhook(self, backend_id, token, **_kwargs):
        backend = request.env["esp.backend"].sudo().browse(backend_id).exists()
        try:
            check_token(backend, token)
            if request.httprequest.method == "GET":
                # Mailchimp checks the URL answers 200 before registering it.
                return request.make_response("OK")
            return self._esp_receive(backend)
        except WebhookRefused as refused:
            return self._esp_refuse(backend_id, refused)

    @http.route(
        "/esp_sync/webhook/<int:backend_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def esp_webhook_signed(self, backend_id, **_kwargs):
        """Signed webhooks (Klaviyo): the URL carries no secret."""
        backend = request.env["esp.backend"].sudo().browse(backend_id).exists()
        try:
            if not (backend and backend.active and backend.provider == "klaviyo"):
                raise WebhookRefused(404, "unknown backend or not a signing ESP")
            return self._esp_receive(backend)
        except WebhookRefused as refused:
            return self._esp_refuse(backend_id, refused)

    def _esp_receive(self, backend):
        headers = dict(request.httprequest.headers)
        body = read_body(request.httprequest)
        receipts = request.env["esp.webhook.receipt"].sudo()
        try:
            updates = backend._esp_webhook_updates(headers, body)
            updates = receipts._esp_unseen(backend, headers, updates)
        except EspError as err:
            status = 400 if err.category == "data" else 401
            if err.code == "webhook_replay":
                status = 409
            raise WebhookRefused(status, str(err)) from err
        except (ValueError, TypeError, LookupError, RecursionError) as exc:
            # A body no parser foresaw: refused like any malformed one.
            raise WebhookRefused(400, type(exc).__name__) from exc
        applied = (
            request.env["res.partner"]
            .sudo()
            .with_context(esp_consent_source="esp_webhook")
            ._esp_apply_consent_updates(backend, updates)
        )
        _logger.info(
            "Webhook for backend %s: %s partner(s) updated", backend.id, applied
        )
        return request.make_response("OK")

    @staticmethod
    def _esp_refuse(backend_id, refused):
        # Unknown URLs are what scanners try all day: not worth a warning.
        log = _logger.info if refused.status == 404 else _logger.warning
        log(
            "Webhook for backend %s refused (%s): %s",
            backend_id,
            refused.status,
            refused.reason,
        )
        return request.make_response(
            refused.answer,
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            status=refused.status,
        )
