# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models


class MailBlacklist(models.Model):
    """Blacklisting an email is Odoo's opt-out: the ESPs must learn it."""

    _inherit = "mail.blacklist"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._esp_capture_consent()
        return records

    def write(self, vals):
        result = super().write(vals)
        if "active" in vals or "email" in vals:
            self._esp_capture_consent()
        return result

    def _esp_capture_consent(self):
        emails = [email for email in self.mapped("email") if email]
        if not emails:
            return
        partners = (
            self.env["res.partner"].sudo().search([("email_normalized", "in", emails)])
        )
        partners._esp_capture("consent")
