# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent evidence of delivery: when each ESP accepted a consent change.

The consent history records a change where it is made (Odoo or an ESP);
this adds the proof that it reached each ESP: an "Applied at the ESP" row
per accepted consent delivery (email or SMS), with the backend, the list,
audience or address book it applied to, and the state the ESP was told.
"""

from odoo import _, fields, models

from ..providers import events as ev


class EspConsentLogApplied(models.Model):
    _inherit = "esp.consent.log"

    event = fields.Selection(
        selection_add=[("applied", "Applied at the ESP")],
        ondelete={"applied": "cascade"},
    )


class EspBackendConsentList(models.Model):
    _inherit = "esp.backend"

    def _esp_consent_list(self, audience=None):
        """The list, audience or address book this backend's consent applies
        to (``audience``: a Mailchimp member's routed audience)."""
        self.ensure_one()
        backend = self.sudo()
        return {
            "klaviyo": backend.klaviyo_list_id,
            "mailchimp": audience or backend.mailchimp_list_id,
            "dotdigital": backend.dotdigital_address_book_id,
        }.get(backend.provider) or ""


class EspSyncBindingConsentApplied(models.Model):
    _inherit = "esp.sync.binding"

    def _esp_mark_synced(self, event, result, payload_hash, values=None):
        super()._esp_mark_synced(event, result, payload_hash, values)
        if result.skipped_reason or not isinstance(values, ev.Consent | ev.SmsConsent):
            return
        sms = isinstance(values, ev.SmsConsent)
        told = "suppressed" if getattr(values, "suppressed", False) else None
        told = told or ev.ConsentStatus(values.status).value
        if result.detail.get("awaiting_confirmation"):
            told = _("%(status)s, awaiting confirmation", status=told)
        for binding in self.filtered("partner_id"):
            backend = binding.backend_id
            self.env["esp.consent.log"]._esp_log(
                binding.partner_id,
                "applied",
                backend=backend,
                note=f"{told} {values.phone}" if sms else told,
                channel="sms" if sms else "email",
                list_ref=backend._esp_consent_list(binding.audience_id or None),
            )
