# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Engine step 4b for SMS: an SMS opt-in never overwrites an SMS opt-out
made at the ESP (a STOP reply the consent poll has not read yet)."""

from odoo import _, api, models

from ..providers import events as ev


class EspSyncDeliverySms(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    @api.model
    def _esp_unheard_opt_out(self, backend, adapter, record, values):
        if not (
            isinstance(values, ev.SmsConsent)
            and values.status == ev.ConsentStatus.SUBSCRIBED
            and record._name == "res.partner"
        ):
            return super()._esp_unheard_opt_out(backend, adapter, record, values)
        update = adapter.read_sms_consent(values.email)
        if update is None:
            return None
        partners = self.env["res.partner"].with_context(esp_consent_source="esp_read")
        if not partners._esp_apply_consent_updates(backend, [update]):
            return None  # older than Odoo's opt-in: our own unsubscribe read back
        return _(
            "%(provider)s reports an SMS opt-out Odoo had not heard of: applied "
            "in Odoo, the number was not subscribed.",
            provider=backend.provider.title(),
        )
