# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class EspBackfillWizard(models.TransientModel):
    """Load existing profiles and past orders into a backend."""

    _name = "esp.backfill.wizard"
    _description = "ESP Historical Backfill Wizard"

    backend_id = fields.Many2one(
        "esp.backend",
        required=True,
        default=lambda self: self.env.context.get("active_id"),
    )
    scope = fields.Selection(
        [
            ("all", "Profiles, then orders"),
            ("profiles", "Profiles"),
            ("orders", "Orders"),
            ("catalog", "Catalogue (every product)"),
        ],
        default="all",
        required=True,
    )
    orders_since = fields.Date(help="Leave empty to send every confirmed order.")

    def action_start(self):
        """Create the backfill run, start it, and show its progress."""
        self.ensure_one()
        self.backend_id._esp_check_rights()
        run = self.env["esp.backfill"].create(
            {
                "backend_id": self.backend_id.id,
                "scope": self.scope,
                "orders_since": self.orders_since,
            }
        )
        run.action_start()
        return {
            "type": "ir.actions.act_window",
            "res_model": "esp.backfill",
            "res_id": run.id,
            "view_mode": "form",
            "target": "current",
        }
