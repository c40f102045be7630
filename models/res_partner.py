# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models

from .. import const


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "esp.sync.mixin"]

    esp_marketing_opt_in = fields.Boolean(
        "Marketing opt-in",
        copy=False,
        tracking=True,
        help="The person explicitly agreed to receive marketing email.",
    )
    esp_consent_date = fields.Datetime("Consent date", copy=False)
    esp_consent_source = fields.Char("Consent source", copy=False)
    esp_consent_withdrawn_at = fields.Datetime(
        "Consent withdrawn",
        copy=False,
        readonly=True,
        help="When the opt-in was removed: the ESPs unsubscribe the person.",
    )
    esp_binding_ids = fields.One2many(
        "esp.sync.binding", "partner_id", "ESP sync status"
    )

    def _esp_partner(self):
        return self

    def _esp_company(self):
        return self.company_id or self.env.company

    def _esp_companies(self):
        """A partner's own company; for a shared partner, the companies it
        bought from or was invoiced by (else the current company)."""
        self.ensure_one()
        if self.company_id:
            return self.company_id
        commercial = self.commercial_partner_id.id
        companies = self.env["res.company"]
        for model in ("sale.order", "account.move"):
            domain = [("partner_id", "child_of", commercial)]
            if model == "sale.order":
                domain.append(("state", "=", "sale"))
            else:
                domain += [("state", "=", "posted"), ("move_type", "like", "out_")]
            for (company,) in (
                self.env[model].sudo()._read_group(domain, ["company_id"])
            ):
                companies |= company
        return companies or self.env.company

    def _esp_consent_status(self):
        """subscribed / unsubscribed / never, from Odoo's own records."""
        self.ensure_one()
        if self._esp_is_blacklisted() or self.esp_consent_withdrawn_at:
            return "unsubscribed"
        if self.esp_marketing_opt_in:
            return "subscribed"
        return "never"

    def _esp_is_blacklisted(self):
        """Read the blacklist itself: ``is_blacklisted`` may be a stale cache."""
        self.ensure_one()
        return bool(
            self.email_normalized
            and self.env["mail.blacklist"]
            .sudo()
            .search_count(
                [("email", "=", self.email_normalized), ("active", "=", True)]
            )
        )

    # ------------------------------------------------------------------ capture
    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners.filtered("email")._esp_capture("profile")
        partners.filtered(lambda p: p.email and p.esp_marketing_opt_in)._esp_capture(
            "consent"
        )
        return partners

    def write(self, vals):
        if "esp_marketing_opt_in" in vals:
            if vals["esp_marketing_opt_in"]:
                vals = dict(vals, esp_consent_withdrawn_at=False)
                vals.setdefault("esp_consent_date", fields.Datetime.now())
            else:
                withdrawn = self.filtered("esp_marketing_opt_in")
                withdrawn.write({"esp_consent_withdrawn_at": fields.Datetime.now()})
        result = super().write(vals)
        if self._esp_capturing():
            changed = set(vals)
            if changed & const.CONSENT_FIELDS or "email" in changed:
                self.filtered("email")._esp_capture("consent")
            if changed & const.CONSENT_FIELDS:
                self.filtered("email")._esp_capture_esp_owned_profile()
            if changed & self._esp_profile_fields():
                self.filtered("email")._esp_capture("profile")
        return result

    def _esp_capture_esp_owned_profile(self):
        """Where the ESP owns consent (Mailchimp), a consent change travels as
        a profile upsert: a person not yet in the audience is created with
        ``status_if_new`` from the opt-in; an existing member keeps its status.
        """
        backends = self.env["esp.backend"]
        for partner in self:
            owned = backends._esp_backends_for_company(
                partner._esp_company(), "profile"
            ).filtered(lambda b: b.consent_master == "esp")
            if owned:
                partner._esp_capture("profile", owned)

    @api.model
    def _esp_profile_fields(self):
        """Fields whose change refreshes the ESP profile: base + mapped roots."""
        mapped = self.env["esp.field.mapping"].sudo().search([]).mapped("field_path")
        return const.PROFILE_FIELDS | {path.split(".")[0] for path in mapped}

    def _esp_sync_now(self, backend=None):
        """Deliver profile and consent again, even if nothing changed."""
        self._esp_forget_payloads(backend)
        self._esp_capture("profile", backend)
        self._esp_capture("consent", backend)
        return True

    # ------------------------------------------------------- ESP -> Odoo consent
    @api.model
    def _esp_apply_consent_updates(self, backend, updates):
        """Apply unsubscribes/cleans/suppressions made at the ESP.

        The email is blacklisted (Odoo's own opt-out) and the opt-in cleared,
        so no later Odoo sync can subscribe the person again. Returns how
        many partners changed.
        """
        changed = self.browse()
        blacklist = self.env["mail.blacklist"].sudo()
        for update in updates:
            if update.status == "subscribed":
                continue
            partners = (
                self.sudo()
                .with_context(active_test=False)
                .search([("email_normalized", "=", update.email.lower())])
            )
            if update.status == "unsubscribed" and backend.provider == "dotdigital":
                # Odoo creates people it has no opt-in for as unsubscribed in
                # Dotdigital (it would subscribe them otherwise): their
                # unsubscribe read back is Odoo's own write, not news.
                partners = partners.filtered("esp_marketing_opt_in")
            if not partners:
                continue
            known = blacklist.search([("email", "=", update.email.lower())])
            if not known:
                blacklist.with_context(**{const.NO_CAPTURE: True})._add(
                    update.email,
                    message=_(
                        "Unsubscribed in %(provider)s (%(status)s)",
                        provider=backend.provider.title(),
                        status=update.status,
                    ),
                )
            to_clear = partners.filtered("esp_marketing_opt_in")
            to_clear.with_context(**{const.NO_CAPTURE: True}).write(
                {"esp_marketing_opt_in": False}
            )
            if not known or to_clear:
                # An update matching Odoo's state (an echo) changes nothing.
                changed |= partners
        # Other backends (where Odoo masters consent) must learn it too.
        backend_model = self.env["esp.backend"]
        for partner in changed:
            others = backend_model.browse()
            for company in partner._esp_companies():
                others |= backend_model._esp_backends_for_company(company, "consent")
            partner._esp_capture("consent", others - backend)
        return len(changed)
