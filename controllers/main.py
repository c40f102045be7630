# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hmac
import logging

from odoo import http
from odoo.http import request

from ..providers import EspError

_logger = logging.getLogger(__name__)


class EspWebhookController(http.Controller):
    """ESP -> Odoo: unsubscribes and suppressions made at the ESP.

    The URL carries the backend id and its secret token; the token is checked
    before anything else. Klaviyo calls are also signature-checked by the
    adapter.
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
        if (
            not backend
            or not backend.active
            or not hmac.compare_digest(
                token.encode(), (backend.webhook_secret or "").encode()
            )
        ):
            return request.make_response("Not found", status=404)
        if request.httprequest.method == "GET":
            # Mailchimp checks the URL answers 200 before registering it.
            return request.make_response("OK")
        headers = dict(request.httprequest.headers)
        # Form posts (Mailchimp) were already parsed by Odoo: their stream is
        # consumed, so hand the adapter the parsed form instead.
        body = request.httprequest.get_data() or request.httprequest.form.to_dict()
        try:
            updates = backend._esp_webhook_updates(headers, body)
        except EspError as err:
            _logger.warning("Webhook refused for backend %s: %s", backend.id, err)
            return request.make_response("Refused", status=401)
        applied = (
            request.env["res.partner"]
            .sudo()
            ._esp_apply_consent_updates(backend, updates)
        )
        _logger.info(
            "Webhook for backend %s: %s partner(s) updated", backend.id, applied
        )
        return request.make_response("OK")
