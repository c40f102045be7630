# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models, tools


class ResCompany(models.Model):
    """Capture asks "which companies, and their own partners" on every write:
    answered from a cache that a new company or a changed partner clears."""

    _inherit = "res.company"

    @api.model
    @tools.ormcache()
    def _esp_company_ids(self):
        """``(company ids, the companies' own partner ids)``."""
        companies = self.sudo().with_context(active_test=False).search([])
        return tuple(companies.ids), frozenset(companies.partner_id.ids)

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        self.env.registry.clear_cache()
        return companies

    def write(self, vals):
        result = super().write(vals)
        if "partner_id" in vals or "active" in vals:
            self.env.registry.clear_cache()
        return result
