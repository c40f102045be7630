# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "esp.sync.mixin"]

    esp_binding_ids = fields.One2many(
        "esp.sync.binding", "sale_order_id", "ESP sync status"
    )

    def _esp_partner(self):
        return self.partner_id

    def _esp_sale_order(self):
        return self

    def action_confirm(self):
        result = super().action_confirm()
        confirmed = self.filtered(lambda o: o.state == "sale")
        confirmed._esp_capture_with_profile("order_placed")
        return result

    def _action_cancel(self):
        was_confirmed = self.filtered(lambda o: o.state == "sale")
        result = super()._action_cancel()
        was_confirmed.filtered(lambda o: o.state == "cancel")._esp_capture(
            "order_cancelled"
        )
        was_confirmed._esp_capture_partner_profile()
        return result

    def _esp_sync_now(self, backend=None):
        """Record Placed again if it never reached the ESP, then deliver."""
        self._esp_check_sync_rights()
        self.filtered(lambda o: o.state == "sale")._esp_capture("order_placed", backend)
        return super()._esp_sync_now(backend)
