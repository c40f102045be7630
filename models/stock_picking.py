# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockPicking(models.Model):
    _name = "stock.picking"
    _inherit = ["stock.picking", "esp.sync.mixin"]

    def _esp_partner(self):
        return self.sale_id.partner_id

    def _esp_sale_order(self):
        return self.sale_id

    def _esp_group(self):
        # Fulfilments and returns queue behind their order's Placed event.
        return self.sale_id or self

    def _esp_is_shipment(self):
        """Goods left for the customer: outgoing or dropship, done."""
        self.ensure_one()
        return self.state == "done" and self.location_dest_id.usage == "customer"

    def _esp_is_return(self):
        """Goods came back from the customer."""
        self.ensure_one()
        return self.state == "done" and self.location_id.usage == "customer"

    def _action_done(self):
        result = super()._action_done()
        # Only the terminal state counts: never creation or reservation.
        sold = self.filtered("sale_id")
        sold.filtered(lambda p: p._esp_is_shipment())._esp_capture("order_fulfilled")
        returns = sold.filtered(lambda p: p._esp_is_return())
        returns._esp_capture_with_profile("order_returned")
        return result
