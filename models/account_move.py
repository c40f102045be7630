# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "esp.sync.mixin"]

    def _esp_partner(self):
        return self.partner_id

    def _esp_sale_order(self):
        orders = self.invoice_line_ids.sale_line_ids.order_id
        if not orders and self.reversed_entry_id:
            orders = self.reversed_entry_id.invoice_line_ids.sale_line_ids.order_id
        return orders[:1]

    def _esp_group(self):
        return self._esp_sale_order() or self

    def _esp_capture_refund(self, trigger):
        """Record Refunded Order for backends whose refund trigger is ``trigger``."""
        refunds = self.filtered(lambda m: m.move_type == "out_refund")
        for refund in refunds:
            backends = (
                self.env["esp.backend"]
                ._esp_backends_for_company(refund.company_id, "refund")
                .filtered(lambda b: b.refund_trigger == trigger)
            )
            if backends:
                refund._esp_capture_with_profile("order_refunded", backends)

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._esp_capture_refund("posted")
        return posted

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        self._esp_capture_refund("paid")
        return result
