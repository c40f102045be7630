# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class ResPartnerCategory(models.Model):
    """Tags travel as ESP tags: renaming one refreshes the tagged people."""

    _inherit = "res.partner.category"

    def write(self, vals):
        result = super().write(vals)
        if "name" in vals:
            partners = self.sudo().with_context(active_test=False).partner_ids
            partners.filtered("email")._esp_capture("profile")
        return result
