# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class EspReconcileIgnore(models.TransientModel):
    """Ignore reconciliation differences with a reason kept on each."""

    _name = "esp.reconcile.ignore"
    _description = "Ignore reconciliation differences"

    line_ids = fields.Many2many("esp.reconcile.line", string="Differences")
    reason = fields.Char(required=True)

    def action_confirm(self):
        self.ensure_one()
        self.line_ids.action_ignore(reason=self.reason)
        return {"type": "ir.actions.act_window_close"}
