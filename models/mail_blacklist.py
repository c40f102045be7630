# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from .res_partner import LOGGED


class MailBlacklist(models.Model):
    """Blacklisting an email is Odoo's opt-out: the ESPs must learn it."""

    _inherit = "mail.blacklist"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._esp_log_consent(records.filtered("active"), "blacklisted")
        records._esp_capture_consent()
        return records

    def write(self, vals):
        if "active" in vals:
            flipping = self.filtered(lambda b: b.active != bool(vals["active"]))
            event = "blacklisted" if vals["active"] else "unblacklisted"
            self._esp_log_consent(flipping, event)
        result = super().write(vals)
        if "active" in vals or "email" in vals:
            self._esp_capture_consent()
        return result

    def _esp_log_consent(self, entries, event):
        if entries and not self.env.context.get(LOGGED):
            self.env["esp.consent.log"]._esp_log_blacklist(
                entries.mapped("email"), event
            )

    def _esp_capture_consent(self):
        emails = [email for email in self.mapped("email") if email]
        if not emails:
            return
        partners = (
            self.env["res.partner"].sudo().search([("email_normalized", "in", emails)])
        )
        partners._esp_capture("consent")
