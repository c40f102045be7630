# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Double opt-in, per backend: a new Odoo opt-in asks the ESP to confirm by
email, and the person's consent binding shows "awaiting confirmation" until
the ESP reports the confirmation (Mailchimp's subscribe webhook, or the
consent poll reading the person back). Awaiting is never an opt-out: the
opt-in stays ticked and nothing is blacklisted; an opt-out while awaiting
goes out as any opt-out does and ends the wait.
"""

import dataclasses
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.queue_job.exception import RetryableJobError

from ..providers import EspError
from ..providers import events as ev
from ..providers.retry import retry_delay

# Awaiting bindings read back per consent poll (oldest check first), and for
# how long after the request: later, only a webhook tells.
CONFIRMATION_READS_PER_POLL = 200
CONFIRMATION_READ_DAYS = 30


class EspBackendDoubleOptIn(models.Model):
    _inherit = "esp.backend"

    double_opt_in = fields.Boolean(
        "Double opt-in",
        tracking=True,
        help="A new opt-in made in Odoo asks the person to confirm by email "
        "(Mailchimp: member pending; Klaviyo: the backend's list, set to "
        "double opt-in in Klaviyo; Dotdigital: verified double opt-in). The "
        "partner shows 'awaiting confirmation' until the ESP confirms.",
    )

    @api.constrains("double_opt_in", "provider", "dotdigital_never_opted_in")
    def _check_double_opt_in(self):
        for backend in self.filtered("double_opt_in"):
            if (
                backend.provider == "dotdigital"
                and backend.dotdigital_never_opted_in != "unsubscribed"
            ):
                raise ValidationError(
                    _(
                        "Double opt-in on Dotdigital needs customers who never "
                        "opted in created Unsubscribed: Dotdigital's default "
                        "status is already subscribed, so an opt-in would have "
                        "nothing to confirm."
                    )
                )

    def _esp_settings(self):
        settings = super()._esp_settings()
        if not self.sudo().double_opt_in:
            return settings
        extra = dict(settings.extra, double_opt_in=True)
        return dataclasses.replace(settings, extra=extra)

    def _esp_poll_consent_guarded(self):
        message = super()._esp_poll_consent_guarded()
        if not self.double_opt_in:
            return message
        try:
            confirmed = self._esp_read_confirmations()
        except EspError as err:
            if err.retryable:
                raise RetryableJobError(
                    str(err), seconds=int(retry_delay(err, 0)), ignore_retry=True
                ) from err
            self.env["esp.sync.exception"]._esp_record(self, self, err)
            return f"{message}; {err}"
        return f"{message}, {confirmed} confirmations read"

    def _esp_read_confirmations(self, limit=CONFIRMATION_READS_PER_POLL):
        """Read back people awaiting confirmation; confirm the subscribed."""
        self.ensure_one()
        bindings = self.env["esp.sync.binding"].sudo()
        awaiting = bindings.search(
            [
                ("backend_id", "=", self.id),
                ("stream", "=", "consent"),
                ("res_model", "=", "res.partner"),
                ("confirmation_state", "=", "awaiting"),
                (
                    "confirmation_requested_at",
                    ">=",
                    fields.Datetime.now() - timedelta(days=CONFIRMATION_READ_DAYS),
                ),
            ],
            order="confirmation_checked_at asc nulls first, id",
            limit=limit,
        )
        if not awaiting:
            return 0
        # Mailchimp audience routing: each person is read in their audience.
        adapters = self._esp_audience_adapters()
        by_audience = {a.settings.mailchimp_list_id: a for a in adapters}
        confirmed = bindings.browse()
        for binding in awaiting:
            email = binding.partner_id.email_normalized
            adapter = by_audience.get(binding.audience_id or "", adapters[0])
            if email and adapter.read_subscription(email) == "subscribed":
                confirmed |= binding
        awaiting.write({"confirmation_checked_at": fields.Datetime.now()})
        confirmed.with_context(esp_consent_source="esp_poll")._esp_confirm()
        return len(confirmed)


class EspSyncBindingDoubleOptIn(models.Model):
    _inherit = "esp.sync.binding"

    confirmation_state = fields.Selection(
        [("awaiting", "Awaiting confirmation"), ("confirmed", "Confirmed")],
        "Double opt-in",
        readonly=True,
        copy=False,
        help="Consent on a backend with double opt-in: awaiting until the "
        "person confirms by email at the ESP, then confirmed.",
    )
    confirmation_requested_at = fields.Datetime(readonly=True, copy=False)
    confirmation_checked_at = fields.Datetime(readonly=True, copy=False)

    def _esp_mark_synced(self, event, result, payload_hash, values=None):
        super()._esp_mark_synced(event, result, payload_hash, values)
        if (
            event.event_type != "consent"
            or result.skipped_reason
            or not isinstance(values, ev.Consent)
        ):
            return
        opted_in = values.status == ev.ConsentStatus.SUBSCRIBED and not (
            values.suppressed
        )
        if opted_in and result.detail.get("awaiting_confirmation"):
            self._esp_await_confirmation()
        elif opted_in and _reports_subscribed(result.detail):
            self.filtered(lambda b: b.confirmation_state == "awaiting")._esp_confirm()
        elif not opted_in:
            # An opt-out (or blacklist) went out: any wait is over.
            self.filtered("confirmation_state").write({"confirmation_state": False})

    def _esp_await_confirmation(self):
        waiting = self.filtered(lambda b: b.confirmation_state != "awaiting")
        if not waiting:
            return
        waiting.write(
            {
                "confirmation_state": "awaiting",
                "confirmation_requested_at": fields.Datetime.now(),
                "confirmation_checked_at": False,
            }
        )
        for binding in waiting:
            self.env["esp.consent.log"]._esp_log(
                binding.partner_id,
                "confirmation_requested",
                backend=binding.backend_id,
                note=_("Confirmation email requested"),
            )

    def _esp_confirm(self):
        """The ESP reports the confirmation: confirmed where the person is
        still opted in in Odoo; an Odoo opt-out made since keeps its course
        (the opt-out is delivered; nothing subscribes them again)."""
        for binding in self.filtered(lambda b: b.confirmation_state == "awaiting"):
            partner = binding.partner_id
            if partner and partner._esp_consent_status() == "subscribed":
                binding.write({"confirmation_state": "confirmed"})
                self.env["esp.consent.log"]._esp_log(
                    partner,
                    "esp_confirmed",
                    backend=binding.backend_id,
                    note=_("Confirmed by email at the ESP"),
                )
            else:
                binding.write({"confirmation_state": False})


def _reports_subscribed(detail):
    """The ESP said the person is subscribed already (confirmed before)."""
    return "subscribed" in (detail.get("status"), detail.get("action"))


class EspConsentLogDoubleOptIn(models.Model):
    _inherit = "esp.consent.log"

    event = fields.Selection(
        selection_add=[
            ("confirmation_requested", "Confirmation requested (double opt-in)"),
            ("esp_confirmed", "Confirmed at the ESP (double opt-in)"),
        ],
        ondelete={"confirmation_requested": "cascade", "esp_confirmed": "cascade"},
    )


class ResPartnerDoubleOptIn(models.Model):
    _inherit = "res.partner"

    @api.model
    def _esp_confirm_opt_in(self, backend, update):
        """A "subscribed" the ESP reports (Mailchimp's subscribe webhook):
        the confirmation of the people awaiting it on ``backend``."""
        if getattr(update, "channel", "email") != "email":
            return
        partners = self._esp_reachable_partners(backend, update.email.lower())
        if not partners:
            return
        self.env["esp.sync.binding"].sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("stream", "=", "consent"),
                ("res_model", "=", "res.partner"),
                ("res_id", "in", partners.ids),
                ("confirmation_state", "=", "awaiting"),
            ]
        )._esp_confirm()


class EspSyncValuesDoubleOptIn(models.AbstractModel):
    _inherit = "esp.sync.values"

    def _esp_build(self, event, record):
        """Where the ESP masters opt-ins (Mailchimp), an Odoo opt-in on a
        double opt-in backend still travels: as a confirmation request
        (a new member is pending, an existing one keeps its status), so the
        person, not Odoo, subscribes them at the ESP."""
        backend = event.backend_id
        if (
            event.event_type == "consent"
            and backend.double_opt_in
            and backend.consent_master != "odoo"
        ):
            consent = self._esp_consent(backend, record)
            if consent.status == ev.ConsentStatus.SUBSCRIBED and not consent.suppressed:
                return consent
        return super()._esp_build(event, record)


class EspReconcileLineDoubleOptIn(models.Model):
    _inherit = "esp.reconcile.line"

    @api.model
    def _esp_consent_difference(self, backend, partner, consent, remote):
        """Someone awaiting confirmation is "never subscribed" at the ESP:
        no difference (pushing the opt-in again would email them again)."""
        if remote.consent == "never" and backend.double_opt_in:
            awaiting = (
                self.env["esp.sync.binding"]
                .sudo()
                .search_count(
                    [
                        ("backend_id", "=", backend.id),
                        ("res_model", "=", "res.partner"),
                        ("res_id", "=", partner.id),
                        ("stream", "=", "consent"),
                        ("confirmation_state", "=", "awaiting"),
                    ]
                )
            )
            if awaiting:
                return []
        return super()._esp_consent_difference(backend, partner, consent, remote)
