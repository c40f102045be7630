# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Data minimisation: what a backend would receive for a record, exactly.

The values are built by the same code as deliveries (esp.sync.values) and
the requests by the adapter itself, on a transport that sends nothing
(providers/preview.py); no ledger row is written.
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..models.esp_sync_delivery_unit import ADAPTER_METHOD
from ..models.esp_sync_values import EspSkip
from ..providers import EspError
from ..providers.preview import as_text, preview

STREAMS = [
    ("profile", "Profile"),
    ("consent", "Consent"),
    ("order_placed", "Placed order"),
    ("sms_consent", "SMS consent"),
]


class EspSyncPreview(models.TransientModel):
    _name = "esp.sync.preview"
    _description = "ESP Sync payload preview"

    backend_id = fields.Many2one("esp.backend", required=True)
    partner_id = fields.Many2one("res.partner")
    sale_order_id = fields.Many2one("sale.order")
    event_type = fields.Selection(STREAMS, "What", required=True, default="profile")
    result = fields.Text(readonly=True)

    @api.model
    def _esp_check_manager(self):
        if not self.env.user.has_group("esp_sync.group_esp_sync_manager"):
            raise AccessError(_("Only ESP Sync managers can preview payloads."))

    @api.model_create_multi
    def create(self, vals_list):
        self._esp_check_manager()
        return super().create(vals_list)

    def action_preview(self):
        """Fill ``result`` with the requests the backend would receive."""
        self.ensure_one()
        self._esp_check_manager()
        self.result = self._esp_preview_text()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _esp_record(self):
        if self.event_type == "order_placed":
            return self.sale_order_id
        return self.partner_id or self.sale_order_id.partner_id

    def _esp_preview_text(self):
        record = self._esp_record().sudo()
        if not record:
            return _("Choose a contact, or an order for a placed order.")
        backend = self.backend_id.sudo()
        if not backend._esp_in_scope(record._esp_partner()):
            return _(
                "%(name)s is not in the scope of %(backend)s: nothing would be sent.",
                name=record.display_name,
                backend=backend.name,
            )
        event = self.env["esp.sync.event"].new(
            {
                "backend_id": backend.id,
                "event_type": self.event_type,
                "res_model": record._name,
                "res_id": record.id,
                "idempotency_key": f"preview:{record._name}:{record.id}",
                "occurred_at": fields.Datetime.now(),
            }
        )
        try:
            values = self.env["esp.sync.values"]._esp_build(event, record)
        except EspSkip as skip:
            return _("Nothing would be sent: %s", skip.reason)
        except EspError as error:
            return _("This would fail before any request: %s", error.message)
        settings = backend._esp_settings()
        rules = backend.audience_rule_ids
        if rules:
            rule = rules._esp_rule_for(record._esp_partner())
            if not rule:
                return _("No audience rule matches: nothing would be sent.")
            settings = rule._esp_settings(settings)
        writes, note = preview(settings, ADAPTER_METHOD[type(values)], values)
        return as_text(writes, note)
