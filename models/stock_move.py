# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class StockMove(models.Model):
    _inherit = "stock.move"

    def _esp_changes_stock(self):
        """True when this done move changes the company's quantity on hand."""
        self.ensure_one()
        inside = self.location_id.usage == "internal"
        return (
            self.state == "done"
            and self.product_id.is_storable
            and inside != (self.location_dest_id.usage == "internal")
        )

    def _esp_capture_available(self):
        """Reserving or releasing stock for a move out of the company's
        stock (a delivery) moves what customers can buy: the ESPs learn it
        for those variants only (internal transfers change nothing)."""
        moves = self.filtered(
            lambda m: m.product_id.is_storable
            and m.location_id.usage == "internal"
            and m.location_dest_id.usage != "internal"
        )
        for company in moves.company_id:
            mine = moves.filtered(lambda m, c=company: m.company_id == c)
            mine.product_id._esp_capture_inventory(company)

    def _action_assign(self, force_qty=False):
        result = super()._action_assign(force_qty=force_qty)
        self._esp_capture_available()
        return result

    def _do_unreserve(self):
        result = super()._do_unreserve()
        self._esp_capture_available()
        return result

    def _action_cancel(self):
        result = super()._action_cancel()
        self._esp_capture_available()
        return result

    def _action_done(self, cancel_backorder=False):
        # Deliveries, receipts, returns and inventory adjustments (which apply
        # quants through done moves) all pass here.
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        changed = moves.filtered(lambda m: m._esp_changes_stock())
        for company in changed.company_id:
            products = changed.filtered(lambda m, c=company: m.company_id == c)
            products.product_id._esp_capture_inventory(company)
        return moves
