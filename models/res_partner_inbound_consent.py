# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""ESP -> Odoo consent: unsubscribes, cleans and suppressions made at an ESP
(webhooks, polls, the read before an opt-in) become Odoo's blacklist and
reach every other backend that knows the person; echoes of what esp_sync
itself sent are recognised and ignored."""

import datetime
import logging
from datetime import timedelta

import psycopg2.errors

from odoo import _, api, models

from .. import const
from .res_partner import LOGGED

logger = logging.getLogger(__name__)

# A suppression dated up to this long after esp_sync asked to lift its own is
# taken as that one (the ESP applies both asynchronously).
SUPPRESSION_LIFT_MARGIN = timedelta(minutes=15)


class ResPartnerInboundConsent(models.Model):
    _inherit = "res.partner"

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
