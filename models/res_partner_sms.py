# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""SMS marketing consent: its own opt-in, evidence and capture.

The same policy as email: opt-ins follow the consent master (Odoo for
Klaviyo and Dotdigital), a withdrawal always travels, nothing re-subscribes
someone who opted out. The number sent is the partner's mobile in E.164
(``providers/phone.py``, with the country's calling code). Mailchimp's
Marketing API has no SMS consent: no row is recorded for it.
"""

import datetime

from odoo import _, api, fields, models

from .. import const
from ..providers.phone import PhoneError, normalise_mobile
from .res_partner import LOGGED


class ResPartner(models.Model):
    _inherit = "res.partner"

    esp_sms_opt_in = fields.Boolean(
        "SMS marketing opt-in",
        copy=False,
        tracking=True,
        help="The person explicitly agreed to receive marketing text messages "
        "on their mobile number.",
    )
    esp_sms_consent_date = fields.Datetime("SMS consent date", copy=False)
    esp_sms_withdrawn_at = fields.Datetime(
        "SMS consent withdrawn",
        copy=False,
        readonly=True,
        help="When the SMS opt-in was removed: the ESPs unsubscribe the number.",
    )
    esp_sms_number = fields.Char(
        "SMS number",
        compute="_compute_esp_sms_number",
        help="The mobile number in E.164 as the ESPs receive it, or why it "
        "cannot be used.",
    )

    @api.depends("mobile", "country_id.phone_code")
    def _compute_esp_sms_number(self):
        for partner in self:
            try:
                partner.esp_sms_number = partner._esp_mobile().e164
            except PhoneError as error:
                partner.esp_sms_number = _(
                    "Not usable: %(reason)s", reason=error.reason
                )

    def _esp_mobile(self):
        """The mobile number in E.164; raise PhoneError with the reason."""
        self.ensure_one()
        return normalise_mobile(self.mobile, self.country_id.phone_code)

    def _esp_sms_status(self):
        """subscribed / unsubscribed / never, from the SMS opt-in alone."""
        self.ensure_one()
        if self.esp_sms_opt_in:
            return "subscribed"
        if self.esp_sms_withdrawn_at:
            return "unsubscribed"
        return "never"

    # ------------------------------------------------------------------ capture
    @api.model_create_multi
    def create(self, vals_list):
        now = fields.Datetime.now()
        for vals in vals_list:
            if vals.get("esp_sms_opt_in"):
                vals.setdefault("esp_sms_consent_date", now)
        partners = super().create(vals_list)
        opted = partners.filtered("esp_sms_opt_in")
        opted._esp_log_sms("opt_in")
        opted._esp_capture_sms()
        return partners

    def write(self, vals):
        changing = self.browse()
        if "esp_sms_opt_in" in vals:
            opted_in = bool(vals["esp_sms_opt_in"])
            if not self.env.context.get(LOGGED):
                changing = self.filtered(lambda p: bool(p.esp_sms_opt_in) != opted_in)
            if opted_in:
                vals = dict(vals, esp_sms_withdrawn_at=False)
                vals.setdefault("esp_sms_consent_date", fields.Datetime.now())
            else:
                # Captured once, with the outer write.
                self.filtered("esp_sms_opt_in").with_context(
                    **{const.NO_CAPTURE: True}
                ).write({"esp_sms_withdrawn_at": fields.Datetime.now()})
        result = super().write(vals)
        if changing:
            changing._esp_log_sms("opt_in" if vals["esp_sms_opt_in"] else "opt_out")
        if self._esp_capturing() and set(vals) & const.SMS_CONSENT_FIELDS:
            self.filtered(
                lambda p: p.esp_sms_opt_in or p.esp_sms_withdrawn_at
            )._esp_capture_sms()
        return result

    def _esp_log_sms(self, event, backend=None, note=None):
        """Consent history rows of the SMS channel (one INSERT); the note
        names the number (see esp_consent_log_sms)."""
        return (
            self.env["esp.consent.log"]
            .with_context(esp_consent_channel="sms")
            ._esp_log(self, event, backend=backend, note=note, channel="sms")
        )

    def _esp_sms_evidence(self, event):
        """The number consented or withdrawn (and the source of an opt-in)."""
        self.ensure_one()
        try:
            number = self._esp_mobile().e164
        except PhoneError:
            number = self.mobile or _("no usable mobile number")
        source = event == "opt_in" and self.esp_consent_source
        return f"{number} ({source})" if source else number

    def _esp_capture_sms(self, backends=None):
        """Record an SMS consent row for the backends whose ESP has SMS."""
        partners = self.filtered("email")
        if not partners or not partners._esp_capturing():
            return 0
        entries = [
            entry
            for entry in partners.sudo()._esp_capture_entries("sms_consent", backends)
            if entry[0].provider in const.SMS_PROVIDERS
        ]
        return self.env["esp.sync.event"]._esp_record_many(entries)

    def _esp_sync_now(self, backend=None):
        result = super()._esp_sync_now(backend)
        self.filtered(
            lambda p: p.esp_sms_opt_in or p.esp_sms_withdrawn_at
        )._esp_capture_sms(backend)
        return result

    # ------------------------------------------------------- ESP -> Odoo SMS
    @api.model
    def _esp_apply_consent_updates(self, backend, updates):
        """SMS opt-outs made at the ESP clear the SMS opt-in only; email
        updates take the email path unchanged."""
        sms = [u for u in updates if getattr(u, "channel", "email") == "sms"]
        if not sms:
            return super()._esp_apply_consent_updates(backend, updates)
        others = [u for u in updates if u not in sms]
        changed = super()._esp_apply_consent_updates(backend, others) if others else 0
        return changed + self._esp_apply_sms_opt_outs(backend, sms)

    @api.model
    def _esp_apply_sms_opt_outs(self, backend, updates):
        """Clear the SMS opt-in of the people ``updates`` name, log it, and
        tell the other SMS backends that know them. An opt-out older than
        Odoo's opt-in (or an opt-in already cleared: our own unsubscribe read
        back) changes nothing. Returns how many partners changed."""
        changed = self.browse()
        for update in updates:
            partners = self._esp_reachable_partners(backend, update.email.lower())
            occurred = update.occurred_at
            if occurred and occurred.tzinfo:
                occurred = occurred.astimezone(datetime.timezone.utc).replace(
                    tzinfo=None
                )
            to_clear = partners.filtered("esp_sms_opt_in")
            if occurred:
                # An opt-out older than the opt-in Odoo holds is not news; in
                # the same second (both are read to the second) the opt-out wins.
                to_clear = to_clear.filtered_domain(
                    [
                        "|",
                        ("esp_sms_consent_date", "=", False),
                        ("esp_sms_consent_date", "<=", occurred),
                    ]
                )
            if not to_clear:
                continue
            to_clear.with_context(**{const.NO_CAPTURE: True, LOGGED: True}).write(
                {"esp_sms_opt_in": False}
            )
            to_clear._esp_log_sms(
                "esp_opt_out",
                backend=backend,
                note=f"{update.phone or ''} {update.reason or update.status}".strip(),
            )
            changed |= to_clear
        if changed:
            backends = self.env["esp.backend"].sudo().browse()
            reach = changed.with_company(backend.company_id)._esp_companies_of()
            for companies in reach.values():
                for company in companies:
                    backends |= backends._esp_backends_for_company(company, "consent")
            changed._esp_capture_sms(backends - backend)
        return len(changed)
