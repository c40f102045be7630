# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    esp_backend_count = fields.Integer(
        compute="_compute_esp_backend_count", string="ESP backends"
    )
    esp_open_exception_count = fields.Integer(compute="_compute_esp_backend_count")

    def _compute_esp_backend_count(self):
        for settings in self:
            company = settings.company_id
            settings.esp_backend_count = self.env["esp.backend"].search_count(
                [("company_id", "=", company.id)]
            )
            settings.esp_open_exception_count = self.env[
                "esp.sync.exception"
            ].search_count([("company_id", "=", company.id), ("state", "=", "open")])

    def action_esp_open_backends(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "esp_sync.action_esp_backend"
        )
