# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Engine step 4b: an opt-in never overwrites an opt-out made at the ESP."""

from odoo import _, api, models

from ..providers import events as ev


class EspSyncDeliveryConsent(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    @api.model
    def _esp_unheard_opt_out(self, backend, adapter, record, values):
        """Before subscribing someone where Odoo masters opt-ins, read the
        ESP: an opt-out made there that Odoo has not heard of yet (the
        webhook or poll still on its way) wins. It is applied in Odoo (and
        reaches the other ESPs) and nothing is subscribed. Returns the
        reason to record instead of sending, or None to go on.
        """
        if not (
            isinstance(values, ev.Consent)
            and values.status == ev.ConsentStatus.SUBSCRIBED
            and not values.suppressed
            and backend.consent_master == "odoo"
            and record._name == "res.partner"
        ):
            return None
        update = adapter.read_consent(values.email)
        if update is None or self._esp_opt_out_is_ours(backend, record, update):
            return None  # subscribed, unknown, or our own opt-out read back
        partners = self.env["res.partner"].with_context(esp_consent_source="esp_read")
        partners._esp_apply_consent_updates(backend, [update])
        return _(
            "%(provider)s reports an opt-out (%(status)s) Odoo had not heard "
            "of: applied in Odoo, nobody subscribed.",
            provider=backend.provider.title(),
            status=update.status,
        )

    @api.model
    def _esp_opt_out_is_ours(self, backend, partner, update):
        """What esp_sync wrote, read back: the last consent it sent, or the
        neutral "unsubscribed" Dotdigital contacts are created with before
        any consent was sent."""
        if self.env["res.partner"]._esp_is_echo(backend, partner, update):
            return True
        return (
            backend.provider == "dotdigital"
            and update.status == "unsubscribed"
            and not self.env["esp.sync.values"]._esp_last_consent_sent(backend, partner)
        )
