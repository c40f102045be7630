# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent history of the SMS channel: the note is the number's evidence."""

from odoo import api, models


class EspConsentLog(models.Model):
    _inherit = "esp.consent.log"

    @api.model
    def _esp_note(self, partner, event, note):
        if note is None and self.env.context.get("esp_consent_channel") == "sms":
            return partner._esp_sms_evidence(event) or None
        return super()._esp_note(partner, event, note)
