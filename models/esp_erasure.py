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

import hashlib
import hmac

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..providers import events as ev

ERASED = "(erased)"
OUTCOMES = [("requested", "Requested"), ("done", "Done at the ESP")]


def email_digest(env, email):
    """A keyed hash of ``email`` (the database secret is the key)."""
    key = env["ir.config_parameter"].sudo().get_param("database.secret", "")
    message = (email or "").strip().lower().encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


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
        raise AccessError(_("The erasure audit cannot be changed."))

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

    def action_esp_erase(self):
        """Forget these people in every email platform that knows them."""
        if not self.env.user.has_group("esp_sync.group_esp_sync_manager"):
            raise AccessError(_("Only ESP Sync managers can erase people."))
        self.sudo()._esp_request_erasure()
        return True

    def unlink(self):
        known = self.sudo().filtered(
            lambda p: p.esp_binding_ids and not p.esp_erased_at
        )
        known._esp_request_erasure()
        return super().unlink()

    def _esp_request_erasure(self):
        """One erasure row per backend knowing each person; drop the rest."""
        ledger = self.env["esp.sync.event"].sudo()
        entries = []
        for partner in self.filtered(lambda p: p.email and not p.esp_erased_at):
            email = partner.email_normalized or partner.email
            backends = partner.esp_binding_ids.backend_id
            for backend in backends:
                entries.append(
                    (backend, "erasure", partner, partner, {"old_email": email})
                )
                self.env["esp.erasure.log"]._esp_log(backend, email, "requested")
            partner._esp_drop_waiting_rows()
        self.filtered("email").write({"esp_erased_at": fields.Datetime.now()})
        return ledger._esp_record_many(entries)

    def _esp_drop_waiting_rows(self):
        """The person's rows still waiting (their profile, consent, orders)
        will never be sent: skipped, with the reason."""
        self.ensure_one()
        orders = self.env["sale.order"].sudo().search([("partner_id", "=", self.id)])
        waiting = (
            self.env["esp.sync.event"]
            .sudo()
            .search(
                [
                    ("state", "in", ("pending", "failed")),
                    ("event_type", "!=", "erasure"),
                    "|",
                    "&",
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", self.id),
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
        self.env["esp.sync.binding"].sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", row.res_id),
            ]
        ).unlink()
        self._esp_forget_personal_data(row)
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
    def _esp_forget_personal_data(self, row):
        """The ledger keeps no name or address of an erased person."""
        self.env.cr.execute(
            "UPDATE esp_sync_event SET record_name = %s, old_email = NULL"
            " WHERE res_model = 'res.partner' AND res_id = %s AND backend_id = %s",
            (ERASED, row.res_id, row.backend_id.id),
        )
        self.env["esp.sync.event"].invalidate_model(["record_name", "old_email"])
