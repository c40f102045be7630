# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging
from datetime import timedelta

import psycopg2.errors

from odoo import _, api, fields, models, tools
from odoo.tools import SQL

from .. import const
from .esp_sync_values import RECENT_RETURN_DAYS

logger = logging.getLogger(__name__)

# Context key: this consent change is already in the consent history.
LOGGED = "esp_consent_logged"

# A suppression dated up to this long after esp_sync asked to lift its own is
# taken as that one (the ESP applies both asynchronously).
SUPPRESSION_LIFT_MARGIN = timedelta(minutes=15)


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
        return self._esp_companies_of()[self.id]

    def _esp_companies_of(self):
        """A partner's own company; for a shared partner, the companies it
        bought from or was invoiced by (else the current company).

        Two grouped queries for the whole recordset; none when the database
        has a single company.
        """
        result = {partner.id: partner.company_id for partner in self}
        shared = self.filtered(lambda p: not p.company_id)
        if not shared:
            return result
        company_ids = self.env["res.company"]._esp_company_ids()[0]
        if len(company_ids) <= 1:
            result.update({partner.id: self.env.company for partner in shared})
            return result
        companies = self.env["res.company"].sudo().browse(company_ids)
        commercial = {p.id: p.commercial_partner_id.id for p in shared}
        self.env["sale.order"].flush_model(["state", "partner_id", "company_id"])
        self.env["account.move"].flush_model(
            ["state", "partner_id", "company_id", "move_type"]
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT p.commercial_partner_id, so.company_id
                  FROM sale_order so JOIN res_partner p ON p.id = so.partner_id
                 WHERE so.state = 'sale' AND p.commercial_partner_id = ANY(%s)
                 UNION
                SELECT p.commercial_partner_id, m.company_id
                  FROM account_move m JOIN res_partner p ON p.id = m.partner_id
                 WHERE m.state = 'posted'
                   AND m.move_type IN ('out_invoice', 'out_refund', 'out_receipt')
                   AND p.commercial_partner_id = ANY(%s)
                """,
                list(set(commercial.values())),
                list(set(commercial.values())),
            )
        )
        found = {}
        for commercial_id, company_id in self.env.cr.fetchall():
            found.setdefault(commercial_id, []).append(company_id)
        for partner in shared:
            found_ids = found.get(commercial[partner.id])
            result[partner.id] = (
                companies.browse(found_ids) if found_ids else self.env.company
            )
        return result

    def _esp_consent_status(self, blacklisted=None):
        """subscribed / unsubscribed / never, from Odoo's own records.

        ``blacklisted``: already known (a chunk's look-up), else read here.
        """
        self.ensure_one()
        if blacklisted is None:
            blacklisted = self._esp_is_blacklisted()
        if blacklisted or self.esp_consent_withdrawn_at:
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
        self.env["esp.consent.log"]._esp_log(
            partners.filtered("esp_marketing_opt_in"), "opt_in"
        )
        partners.filtered("email")._esp_capture("profile")
        partners.filtered(lambda p: p.email and p.esp_marketing_opt_in)._esp_capture(
            "consent"
        )
        return partners

    def write(self, vals):
        consent_changing = self.browse()
        if "esp_marketing_opt_in" in vals and not self.env.context.get(LOGGED):
            opted_in = bool(vals["esp_marketing_opt_in"])
            consent_changing = self.filtered(
                lambda p: bool(p.esp_marketing_opt_in) != opted_in
            )
        if "esp_marketing_opt_in" in vals:
            if vals["esp_marketing_opt_in"]:
                vals = dict(vals, esp_consent_withdrawn_at=False)
                vals.setdefault("esp_consent_date", fields.Datetime.now())
            else:
                withdrawn = self.filtered("esp_marketing_opt_in")
                # Captured once, with the outer write.
                withdrawn.with_context(**{const.NO_CAPTURE: True}).write(
                    {"esp_consent_withdrawn_at": fields.Datetime.now()}
                )
        capturing = self._esp_capturing() and bool(
            set(vals) & self._esp_watched_fields()
        )
        old_emails = {}
        if capturing and "email" in vals:
            old_emails = {p.id: p.email_normalized or p.email for p in self}
        result = super().write(vals)
        if consent_changing:
            # Evidence after the write: the address and wording it was given.
            event = "opt_in" if vals["esp_marketing_opt_in"] else "opt_out"
            self.env["esp.consent.log"]._esp_log(consent_changing, event)
        if capturing:
            self._esp_capture_write(set(vals), old_emails)
        return result

    def _esp_capture_write(self, changed, old_emails):
        """What a write tells the ESPs: email moves, consent, profile."""
        if old_emails:
            moved = self.filtered(
                lambda p: old_emails.get(p.id)
                and old_emails[p.id] != (p.email_normalized or p.email)
            )
            moved._esp_capture(
                "email_change",
                extra={p.id: {"old_email": old_emails[p.id]} for p in moved},
            )
        with_email = self.filtered("email")
        if changed & const.CONSENT_FIELDS or "email" in changed:
            with_email._esp_capture(
                "consent",
                extra={p.id: {"after_email_change": True} for p in moved}
                if old_emails
                else None,
            )
        if changed & const.CONSENT_FIELDS:
            with_email._esp_capture_esp_owned_profile()
        if changed & self._esp_profile_fields():
            with_email._esp_capture("profile")

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
        return const.PROFILE_FIELDS | self._esp_mapped_roots()

    @api.model
    def _esp_watched_fields(self):
        return self._esp_profile_fields() | const.CONSENT_FIELDS

    @api.model
    @tools.ormcache()
    def _esp_mapped_roots(self):
        """First fields of every mapping path (cached; mappings clear it)."""
        mapped = self.env["esp.field.mapping"].sudo().search([]).mapped("field_path")
        return frozenset(path.split(".")[0] for path in mapped)

    def _esp_sync_now(self, backend=None):
        """Deliver profile and consent again, even if nothing changed."""
        self._esp_check_sync_rights()
        self._esp_forget_payloads(backend)
        self._esp_capture("profile", backend)
        self._esp_capture("consent", backend)
        return True

    # ------------------------------------------------------- ESP -> Odoo consent
    @api.model
    def _esp_blacklist(self, email, message):
        """Blacklist ``email``; a concurrent transaction that just did the
        same (another ESP's webhook or poll for this person) is no error:
        the outcome is the one wanted, and that transaction told the ESPs."""
        blacklist = self.env["mail.blacklist"].sudo().with_context(active_test=False)
        try:
            with self.env.cr.savepoint():
                blacklist.with_context(**{const.NO_CAPTURE: True, LOGGED: True})._add(
                    email, message=message
                )
        except psycopg2.errors.UniqueViolation:
            logger.info("esp_sync: %s was blacklisted concurrently", email)

    @api.model
    def _esp_apply_consent_updates(self, backend, updates):
        """Apply unsubscribes/cleans/suppressions made at the ESP.

        The email is blacklisted (Odoo's own opt-out; archived entries count)
        and the opt-in cleared, so no later Odoo sync can subscribe the person
        again; then every other backend that knows them learns it. What
        esp_sync itself told this backend (an echo) is not a new decision.
        Returns how many partners changed.
        """
        changed = self.browse()
        blacklist = self.env["mail.blacklist"].sudo().with_context(active_test=False)
        for update in updates:
            if update.status == "subscribed":
                self._esp_confirm_opt_in(backend, update)  # double opt-in
                continue
            email = update.email.lower()
            partners = self._esp_reachable_partners(backend, email)
            if not partners:
                continue
            echo = self._esp_is_echo(backend, partners, update)
            listed = blacklist.search([("email", "=", email)], limit=1).active
            if echo and not listed:
                continue  # what esp_sync sent coming back: not a new decision
            if not listed:
                self._esp_blacklist(
                    update.email,
                    _(
                        "Unsubscribed in %(provider)s (%(status)s)",
                        provider=backend.provider.title(),
                        status=update.status,
                    ),
                )
            to_clear = partners.filtered("esp_marketing_opt_in")
            to_clear.with_context(**{const.NO_CAPTURE: True, LOGGED: True}).write(
                {"esp_marketing_opt_in": False}
            )
            if not listed or to_clear:
                # An update matching Odoo's state changes nothing.
                changed |= partners
                self.env["esp.consent.log"]._esp_log(
                    partners,
                    "esp_opt_out",
                    backend=backend,
                    note=f"{update.status}: {update.reason}"
                    if update.reason
                    else update.status,
                )
        # Other backends must learn it too, whoever masters consent there.
        backend_model = self.env["esp.backend"].sudo()
        others = backend_model.browse()
        # The backend's company is "current" for shared partners who bought
        # from no one: the opt-out never travels to another company's ESPs.
        reach = changed.with_company(backend.company_id)._esp_companies_of()
        for companies in reach.values():
            for company in companies:
                others |= backend_model._esp_backends_for_company(company, "consent")
        changed._esp_capture("consent", others - backend)
        self._esp_retell_origin(backend, changed)
        return len(changed)

    @api.model
    def _esp_retell_origin(self, backend, partners):
        """The ESP an opt-out came from hears it back where esp_sync last
        told it "subscribed" and Odoo masters opt-ins there: that subscribe
        may have landed after the opt-out was read (a poll or webhook racing
        a delivery), and must not stay. Its echo changes nothing."""
        if backend.consent_master != "odoo" or not partners:
            return
        subscribed = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("stream", "=", "consent"),
                    ("last_consent_sent", "=", "subscribed"),
                ]
            )
        )
        partners.browse(subscribed.mapped("res_id"))._esp_capture("consent", backend)

    @api.model
    def _esp_reachable_partners(self, backend, email):
        """Partners with ``email`` that ``backend`` may change: its company's
        own, and shared partners that deal with its company (bought from it,
        were invoiced by it, or are synced to this backend)."""
        partners = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("email_normalized", "=", email),
                    ("company_id", "in", (False, backend.company_id.id)),
                ]
            )
        )
        shared = partners.filtered(lambda p: not p.company_id)
        if not shared:
            return partners
        companies = shared.with_company(backend.company_id)._esp_companies_of()
        bound = set(
            self.env["esp.sync.binding"]
            .sudo()
            .search([("backend_id", "=", backend.id), ("partner_id", "in", shared.ids)])
            .partner_id.ids
        )
        return partners.filtered(
            lambda p: p.company_id
            or backend.company_id in companies[p.id]
            or p.id in bound
        )

    @api.model
    def _esp_is_echo(self, backend, partners, update):
        """True when ``update`` only reports back what esp_sync sent.

        Recognised by what was sent: the consent binding of this backend
        holds the last state esp_sync wrote, and when.
        """
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("stream", "=", "consent"),
                    ("last_consent_sent", "!=", False),
                ],
                order="last_consent_sent_at desc",
                limit=1,
            )
        )
        if not bindings:
            # Dotdigital: Odoo creates people it has no opt-in for as
            # unsubscribed contacts; reading that back is not news.
            return (
                backend.provider == "dotdigital"
                and update.status == "unsubscribed"
                and not partners.filtered("esp_marketing_opt_in")
            )
        sent = bindings.last_consent_sent
        reported = (
            "suppressed"
            if update.status in ("suppressed", "cleaned")
            else "unsubscribed"
        )
        if sent == "suppressed":
            return True  # any opt-out after our suppression is its echo
        lifted = bindings.suppression_lifted_at
        if reported == "suppressed" and lifted and update.occurred_at:
            # The suppression esp_sync asked to lift, still being lifted by
            # the ESP's asynchronous jobs.
            occurred = update.occurred_at
            if occurred.tzinfo:
                occurred = occurred.astimezone(datetime.timezone.utc)
            occurred = occurred.replace(tzinfo=None)
            if occurred <= lifted + SUPPRESSION_LIFT_MARGIN:
                return True
        return sent == reported == "unsubscribed"

    @api.model
    def _cron_esp_expire_recent_returns(self):
        """Refresh profiles whose last return just left the "recent" window."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            SELECT DISTINCT sp.partner_id FROM stock_picking sp
              JOIN stock_location src ON src.id = sp.location_id
             WHERE sp.state = 'done' AND src.usage = 'customer'
               AND sp.date_done < %s AND sp.date_done >= %s
            """,
            (
                now - timedelta(days=RECENT_RETURN_DAYS),
                now - timedelta(days=RECENT_RETURN_DAYS + 2),
            ),
        )
        partners = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        partners.exists().filtered("email")._esp_capture("profile")
        return len(partners)
