# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, fields, models


class EspSyncExceptionOwner(models.AbstractModel):
    """Records that show their open sync exceptions with a smart button."""

    _name = "esp.sync.exception.owner"
    _description = "Record with ESP Sync exceptions"

    esp_exception_count = fields.Integer(
        "Sync exceptions",
        compute="_compute_esp_exception_count",
        groups="esp_sync.group_esp_sync_user",
    )

    def _compute_esp_exception_count(self):
        counts = dict(
            self.env["esp.sync.exception"]._read_group(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("state", "=", "open"),
                ],
                ["res_id"],
                ["__count"],
            )
        )
        for record in self:
            record.esp_exception_count = counts.get(record.id, 0)

    def action_esp_open_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "esp_sync.action_esp_sync_exception"
        )
        action["domain"] = [("res_model", "=", self._name), ("res_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        action["name"] = _("Sync exceptions of %s", self.display_name)
        return action


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "esp.sync.exception.owner"]


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "esp.sync.exception.owner"]
