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

    def _action_done(self, cancel_backorder=False):
        # Deliveries, receipts, returns and inventory adjustments (which apply
        # quants through done moves) all pass here.
        moves = super()._action_done(cancel_backorder=cancel_backorder)
        changed = moves.filtered(lambda m: m._esp_changes_stock())
        for company in changed.company_id:
            products = changed.filtered(lambda m, c=company: m.company_id == c)
            products.product_id._esp_capture_inventory(company)
        return moves
