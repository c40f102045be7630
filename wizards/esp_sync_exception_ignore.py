# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class EspSyncExceptionIgnore(models.TransientModel):
    """Ignore exceptions with a reason that stays on each of them."""

    _name = "esp.sync.exception.ignore"
    _description = "Ignore ESP Sync exceptions"

    exception_ids = fields.Many2many("esp.sync.exception", string="Exceptions")
    reason = fields.Text(required=True)

    def action_confirm(self):
        self.ensure_one()
        self.exception_ids.filtered(lambda e: e.state == "open").action_ignore(
            reason=self.reason
        )
        return {"type": "ir.actions.act_window_close"}
