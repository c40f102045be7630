# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Right to erasure: forget a person in every email platform that knows them.

"Forget in email platforms" on a contact (or deleting a synced contact) asks
each backend that knows the person (it has a binding) for the ESP's own
deletion (Klaviyo data-privacy deletion job, Mailchimp permanent deletion,
Dotdigital contact deletion), as an urgent ledger row retried like any
delivery. The person's waiting rows are dropped, capture never sends them
again, and what Odoo keeps of the request is the date, the backend, the
outcome and a keyed hash of the address (``esp.erasure.log``).
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from .. import const
from ..providers import events as ev
from .esp_consent_log import email_digest
from .res_partner import LOGGED

ERASED = "(erased)"
OUTCOMES = [("requested", "Requested"), ("done", "Done at the ESP")]


class EspErasureLog(models.Model):
    _name = "esp.erasure.log"
    _description = "Erasure audit"
    _order = "date desc, id desc"
    _rec_name = "email_hash"

    date = fields.Datetime(required=True, default=fields.Datetime.now)
    backend_id = fields.Many2one("esp.backend", ondelete="set null", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    outcome = fields.Selection(OUTCOMES, required=True)
    email_hash = fields.Char(
        "Email (keyed hash)",
        required=True,
        index=True,
        help="HMAC-SHA256 of the address: proves a request without keeping it.",
    )

    def write(self, vals):
        # Code that scrubs an erased address runs as superuser with a flag;
        # nobody else changes a row (client contexts cannot grant sudo).
        if not (self.env.su and self.env.context.get("esp_consent_log_erase")):
            raise AccessError(_("The erasure audit cannot be changed."))
        return super().write(vals)

    @api.model
    def _esp_log(self, backend, email, outcome):
        return self.sudo().create(
            {
                "backend_id": backend.id,
                "outcome": outcome,
                "email_hash": email_digest(self.env, email),
            }
        )


class ResPartner(models.Model):
    _inherit = "res.partner"

    esp_erased_at = fields.Datetime(
        "Erased at the ESPs",
        readonly=True,
        copy=False,
        help="The person was forgotten in the email platforms: nothing about "
        "them is sent again.",
    )

    def action_esp_erase(self, reason=None):
        """The button (and RPC entry): forget these people at the ESPs."""
        if not self.filtered("email"):
            raise UserError(_("This contact has no email address to erase."))
        self._esp_erase(reason)
        return True

    def _esp_erase(self, reason=None):
        """Right to erasure: every backend that knows the person deletes them.

        ESP Sync managers only (checked here, whoever calls). Covers every
        contact with the same address (one person at the ESPs), blacklists
        the address and clears the opt-in so nothing in Odoo re-creates
        them, and keeps in the consent history an "erased" row with only a
        keyed hash of the address. Returns the number of deletion requests.
        """
        if not self.env.su and not self.env.user.has_group(
            "esp_sync.group_esp_sync_manager"
        ):
            raise AccessError(_("Only ESP Sync managers can erase people."))
        partners = self.sudo()
        emails = [e for e in partners.mapped("email_normalized") if e]
        if emails:
            partners |= partners.with_context(active_test=False).search(
                [("email_normalized", "in", emails)]
            )
        return partners._esp_request_erasure(reason=reason, blacklist=True)

    def unlink(self):
        # Deleting a synced contact forgets them at the ESPs, unless the
        # address lives on in another contact (a duplicate, a merge).
        known = self.sudo().filtered(
            lambda p: p.esp_binding_ids and not p.esp_erased_at
        )
        if known:
            others = (
                self.sudo()
                .with_context(active_test=False)
                .search(
                    [
                        ("email_normalized", "in", known.mapped("email_normalized")),
                        ("id", "not in", self.ids),
                    ]
                )
            )
            shared = set(others.mapped("email_normalized"))
            known.filtered(
                lambda p: p.email_normalized not in shared
            )._esp_request_erasure(reason=_("The contact was deleted."))
        return super().unlink()

    def _esp_request_erasure(self, reason=None, blacklist=False):
        """One erasure row per backend and address known there; the people's
        waiting rows dropped; consent history reduced to keyed hashes."""
        people = self.filtered(lambda p: p.email and not p.esp_erased_at)
        if not people:
            return 0
        entries, seen = [], set()
        for partner in people:
            email = partner.email_normalized or partner.email
            for backend in partner.esp_binding_ids.backend_id:
                if (backend, email) in seen:
                    continue  # one person at the ESP, one deletion
                seen.add((backend, email))
                entries.append(
                    (backend, "erasure", partner, partner, {"old_email": email})
                )
                self.env["esp.erasure.log"]._esp_log(backend, email, "requested")
        quiet = people.with_context(**{const.NO_CAPTURE: True, LOGGED: True})
        quiet.write({"esp_erased_at": fields.Datetime.now()})
        people._esp_drop_waiting_rows()
        if blacklist:
            quiet.filtered("esp_marketing_opt_in").write(
                {"esp_marketing_opt_in": False}
            )
            blacklist_model = quiet.env["mail.blacklist"].sudo()
            for email in set(people.mapped("email_normalized")) - {False}:
                blacklist_model._add(email, message=_("Erased at the ESPs."))
        people._esp_log_erasure(reason, sorted({b.name for b, _e in seen}))
        return self.env["esp.sync.event"].sudo()._esp_record_many(entries)

    def _esp_log_erasure(self, reason, backend_names):
        """Consent history: earlier rows keep only a keyed hash of the
        address, and an "erased" row says when, why and where."""
        logs = self.env["esp.consent.log"]
        note = "; ".join(
            filter(
                None,
                [
                    reason,
                    _("asked of: %s", ", ".join(backend_names))
                    if backend_names
                    else _("no ESP knew them"),
                ],
            )
        )
        by_email = {}
        for partner in self:
            email = partner.email_normalized or partner.email
            by_email[email] = by_email.get(email, partner.browse()) | partner
        for email, partners in by_email.items():
            digest = email_digest(self.env, email)
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE esp_consent_log SET email = %s"
                " WHERE partner_id IN %s OR lower(email) = %s",
                (digest, tuple(partners.ids), email.lower()),
            )
            logs._esp_log(partners, "erased", note=note, email=digest)
        logs.invalidate_model(["email"])

    def _esp_drop_waiting_rows(self):
        """The people's rows still waiting (their profile, consent, orders
        and what follows them) will never be sent: skipped, with the reason."""
        orders = self.env["sale.order"].sudo().search([("partner_id", "in", self.ids)])
        groups = [f"res.partner,{pid}" for pid in self.ids]
        groups += [f"res.partner,{pid}:consent" for pid in self.ids]
        groups += [f"sale.order,{oid}" for oid in orders.ids]
        waiting = (
            self.env["esp.sync.event"]
            .sudo()
            .search(
                [
                    ("state", "in", ("pending", "failed")),
                    ("event_type", "!=", "erasure"),
                    "|",
                    "|",
                    ("group_ref", "in", groups),
                    "&",
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", self.ids),
                    "&",
                    ("res_model", "=", "sale.order"),
                    ("res_id", "in", orders.ids),
                ]
            )
        )
        waiting.write(
            {"state": "skipped", "note": _("The person was erased at the ESPs.")}
        )


class EspSyncDeliveryErasure(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    @api.model
    def _esp_deliver_erasure(self, backend, adapter, row):
        """Send the ESP's deletion request; then keep only the audit."""
        audiences = ()
        if backend.provider == "mailchimp":
            lists = [backend.mailchimp_list_id] + backend.audience_rule_ids.mapped(
                "list_id"
            )
            audiences = tuple(dict.fromkeys(filter(None, lists)))
        result = adapter.erase_profile(
            ev.Erasure(email=row.old_email, audiences=audiences)
        )
        self.env["esp.erasure.log"]._esp_log(backend, row.old_email, "done")
        people = self._esp_erased_people(row)
        self.env["esp.sync.binding"].sudo().search(
            [
                ("backend_id", "=", backend.id),
                "|",
                ("partner_id", "in", people.ids),
                "&",
                ("res_model", "=", "res.partner"),
                ("res_id", "in", people.ids),
            ]
        ).unlink()
        self._esp_forget_personal_data(row, people)
        row.write(
            {
                "state": "sent",
                "sent_at": fields.Datetime.now(),
                "attempts": row.attempts + 1,
                "retry_since": False,
            }
        )
        return result

    @api.model
    def _esp_erased_people(self, row):
        """The contact of the row and the erased contacts of its address."""
        partners = self.env["res.partner"].sudo().with_context(active_test=False)
        people = partners.browse(row.res_id).exists()
        if row.old_email:
            people |= partners.search(
                [
                    ("email_normalized", "=", row.old_email),
                    ("esp_erased_at", "!=", False),
                ]
            )
        return people

    @api.model
    def _esp_forget_personal_data(self, row, people):
        """The ledger keeps no name or address of an erased person."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE esp_sync_event SET record_name = %s, old_email = NULL"
            " WHERE res_model = 'res.partner' AND res_id IN %s AND backend_id = %s",
            (ERASED, tuple(people.ids or [row.res_id]), row.backend_id.id),
        )
        self.env["esp.sync.event"].invalidate_model(["record_name", "old_email"])
