# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent evidence: every consent change esp_sync applies or receives.

Append-only: rows are written in the transaction of the change, by code
(as superuser), and nobody may edit or delete them (an erasure keeps the
row and replaces the address by a keyed hash). Shown on the partner form
and exportable as CSV for an audit.
"""

import csv
import hashlib
import hmac
import io

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

EVENTS = [
    ("opt_in", "Opted in"),
    ("opt_out", "Opted out"),
    ("blacklisted", "Blacklisted"),
    ("unblacklisted", "Removed from the blacklist"),
    ("esp_opt_out", "Opted out at the ESP"),
    ("erased", "Erased at the ESPs"),
]
SOURCES = [
    ("odoo_user", "Odoo user"),
    ("website", "Website or portal"),
    ("import", "Import"),
    ("system", "System (automation, API)"),
    ("esp_webhook", "ESP webhook"),
    ("esp_poll", "ESP poll"),
    ("esp_read", "ESP read before an opt-in"),
]
# Context key naming who made a change (webhook, poll...), set by callers.
SOURCE_KEY = "esp_consent_source"
CSV_COLUMNS = (
    "date",
    "email",
    "partner",
    "company",
    "channel",
    "event",
    "source",
    "backend",
    "list",
    "user",
    "note",
)


def email_digest(env, email):
    """A keyed hash of ``email`` (the database secret is the key)."""
    key = env["ir.config_parameter"].sudo().get_param("database.secret", "")
    message = (email or "").strip().lower().encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


class EspConsentLog(models.Model):
    _name = "esp.consent.log"
    _description = "Consent history"
    _order = "date desc, id desc"
    _rec_name = "email"

    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    partner_id = fields.Many2one("res.partner", ondelete="set null", index=True)
    email = fields.Char(required=True, index=True)
    company_id = fields.Many2one("res.company", index=True)
    channel = fields.Selection(
        [("email", "Email"), ("sms", "SMS")], required=True, default="email"
    )
    event = fields.Selection(EVENTS, required=True)
    source = fields.Selection(SOURCES, required=True)
    backend_id = fields.Many2one("esp.backend", ondelete="set null", index=True)
    list_ref = fields.Char(
        "List / audience",
        help="The ESP list, audience or address book the change applied to.",
    )
    user_id = fields.Many2one("res.users", "By", ondelete="set null")
    note = fields.Char(help="The consent text or source, or the ESP's reason.")

    # ----------------------------------------------------------- append-only
    def write(self, vals):
        # Code that scrubs an erased address runs as superuser with a flag;
        # nobody else changes a row (client contexts cannot grant sudo).
        if not (self.env.su and self.env.context.get("esp_consent_log_erase")):
            raise AccessError(_("The consent history cannot be changed."))
        return super().write(vals)

    def unlink(self):
        if not self.env.context.get("esp_consent_log_erase"):
            raise AccessError(_("The consent history cannot be deleted."))
        return super().unlink()

    # ---------------------------------------------------------------- record
    @api.model
    def _esp_source(self):
        """Who is making the change in this environment."""
        context = self.env.context
        if context.get(SOURCE_KEY):
            return context[SOURCE_KEY]
        if context.get("import_file"):
            return "import"
        if self.env.uid == SUPERUSER_ID:
            return "system"  # crons, automations, server code
        return "website" if self.env.user.share else "odoo_user"

    @api.model
    def _esp_log(
        self,
        partners,
        event,
        backend=None,
        note=None,
        email=None,
        channel="email",
        list_ref=None,
    ):
        """One row per partner with an email, in one INSERT whatever their
        number (capture must stay cheap). ``email`` replaces the address
        (an erasure logs a keyed hash); ``channel``: email or sms;
        ``list_ref``: the list or audience (the backend's by default)."""
        partners = partners.filtered("email_normalized")
        if not partners:
            return self.browse()
        source = self._esp_source()
        now = fields.Datetime.now()
        uid = self.env.uid
        if backend and list_ref is None:
            list_ref = backend._esp_consent_list()
        rows = [
            (
                now,
                partner.id,
                email or self._esp_logged_email(partner),
                (backend.company_id if backend else partner.company_id).id or None,
                channel,
                event,
                source,
                backend.id if backend else None,
                list_ref or None,
                uid,
                self._esp_note(partner, event, note),
                uid,
                now,
            )
            for partner in partners
        ]
        self.env.flush_all()
        row_code = (
            "(%s::timestamp, %s, %s, %s::int, %s, %s, %s, %s::int, %s, %s, %s,"
            " %s, %s::timestamp)"
        )
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO esp_consent_log (
                date, partner_id, email, company_id, channel, event, source,
                backend_id, list_ref, user_id, note, create_uid, create_date,
                write_uid, write_date)
            SELECT v.date, v.partner_id, v.email, v.company_id, v.channel,
                   v.event, v.source, v.backend_id, v.list_ref, v.user_id,
                   v.note, v.uid, v.now, v.uid, v.now
              FROM (VALUES %s) AS v(date, partner_id, email, company_id,
                   channel, event, source, backend_id, list_ref, user_id, note,
                   uid, now)
            RETURNING id
            """,
                SQL(", ").join(SQL(row_code, *row) for row in rows),
            )
        )
        ids = self.env.cr.fetchall()
        self.invalidate_model()
        partners.invalidate_recordset(["esp_consent_log_ids"])
        return self.browse([row[0] for row in ids])

    @api.model
    def _esp_logged_email(self, partner):
        """The address, or its keyed hash once the person was erased."""
        if partner.esp_erased_at:
            return email_digest(self.env, partner.email_normalized)
        return partner.email_normalized

    @api.model
    def _esp_note(self, partner, event, note):
        if note is not None:
            return note or None
        if event == "opt_in":
            return partner.esp_consent_source or None
        return None

    @api.model
    def _esp_log_blacklist(self, emails, event):
        """Blacklist changes, per partner using those addresses."""
        partners = (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search([("email_normalized", "in", list(emails))])
        )
        return self._esp_log(partners, event)

    # ---------------------------------------------------------------- export
    def action_export_csv(self):
        """The selected rows as a CSV file for an audit (opens a download)."""
        self.env["esp.sync.exception"]._esp_check_manager()
        stream = io.StringIO()
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        events = dict(self._fields["event"]._description_selection(self.env))
        sources = dict(self._fields["source"]._description_selection(self.env))
        for row in self.sorted(lambda r: (r.date, r.id)):
            writer.writerow(
                (
                    fields.Datetime.to_string(row.date),
                    row.email,
                    row.partner_id.display_name or "",
                    row.company_id.name or "",
                    row.channel,
                    events[row.event],
                    sources[row.source],
                    row.backend_id.name or "",
                    row.list_ref or "",
                    row.user_id.name or "",
                    row.note or "",
                )
            )
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": "consent_history.csv",
                    "raw": stream.getvalue().encode(),
                    "mimetype": "text/csv",
                    "res_model": self._name,
                }
            )
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }


class ResPartner(models.Model):
    _inherit = "res.partner"

    esp_consent_log_ids = fields.One2many(
        "esp.consent.log",
        "partner_id",
        "Consent history",
        groups="esp_sync.group_esp_sync_user",
    )
    esp_consent_log_count = fields.Integer(
        "Consent changes",
        compute="_compute_esp_consent_log_count",
        groups="esp_sync.group_esp_sync_user",
    )

    def _compute_esp_consent_log_count(self):
        counts = dict(
            self.env["esp.consent.log"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.esp_consent_log_count = counts.get(partner, 0)

    def action_esp_consent_history(self):
        """This person's consent history: list, pivot, CSV export."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "esp_sync.action_esp_consent_log"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"create": False}
        action["name"] = _("Consent history: %s", self.display_name)
        return action
