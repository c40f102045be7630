# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class MergePartnerAutomatic(models.TransientModel):
    """Merging contacts: the survivor's profile and consent reach the ESPs.

    The survivor now carries the merged orders (commerce properties) and the
    strictest consent; a merged-away address it does not keep is unsubscribed
    like a removed address.
    """

    _inherit = "base.partner.merge.automatic.wizard"

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        partners = self.env["res.partner"].browse(partner_ids).exists()
        emails = {p.id: p.email_normalized for p in partners if p.email_normalized}
        result = super()._merge(partner_ids, dst_partner, extra_checks=extra_checks)
        survivor = (dst_partner or partners).exists()[:1]
        if not survivor:
            return result
        gone = {email for pid, email in emails.items() if pid != survivor.id}
        gone.discard(survivor.email_normalized)
        for email in gone:
            survivor._esp_capture(
                "email_change", extra={survivor.id: {"old_email": email}}
            )
        if survivor.email:
            survivor._esp_capture("profile")
            survivor._esp_capture("consent")
        return result
