# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import _, api, fields, models

KINDS = [
    ("latency", "Changes wait too long"),
    ("error_rate", "Error rate spike"),
    ("authentication", "Credentials rejected"),
    ("rate_limit", "Rate limited too long"),
    ("drift", "ESP drifted from Odoo"),
]
KIND_TEAM = {
    "latency": "operations",
    "error_rate": "operations",
    "authentication": "it",
    "rate_limit": "operations",
    "drift": "marketing",
}
# An error rate needs some volume to mean anything.
ERROR_RATE_MIN_TRIED = 5
ERROR_RATE_WINDOW = timedelta(hours=1)


class EspSyncIncident(models.Model):
    """A backend in bad health: one to-do and one email when it starts,
    closed by itself (and said so in the chatter) when health returns."""

    _name = "esp.sync.incident"
    _description = "ESP Sync Incident"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state desc, opened_at desc, id desc"
    _rec_name = "kind"

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(KINDS, required=True, readonly=True, index=True)
    team = fields.Selection(
        [("marketing", "Marketing"), ("operations", "Operations"), ("it", "IT")],
        readonly=True,
    )
    user_id = fields.Many2one("res.users", "Responsible", tracking=True)
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        default="open",
        required=True,
        readonly=True,
        index=True,
    )
    message = fields.Text(readonly=True)
    opened_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    closed_at = fields.Datetime(readonly=True)

    @api.depends("kind", "backend_id")
    def _compute_display_name(self):
        labels = dict(KINDS)
        for incident in self:
            incident.display_name = (
                f"{incident.backend_id.name}: {labels.get(incident.kind, '')}"
            )

    # ---------------------------------------------------------------- checks
    @api.model
    def _esp_check(self, backends):
        """Compare each backend's health with its thresholds; open or close."""
        now = fields.Datetime.now()
        incidents = self.sudo()
        opened = incidents.search(
            [("backend_id", "in", backends.ids), ("state", "=", "open")]
        )
        by_key = {(i.backend_id.id, i.kind): i for i in opened}
        for backend in backends.sudo():
            problems = backend._esp_health_problems(now)
            for kind, _label in KINDS:
                incident = by_key.get((backend.id, kind))
                message = problems.get(kind)
                if message and not incident:
                    incidents._esp_open(backend, kind, message)
                elif message:
                    incident.message = message
                elif incident:
                    incident._esp_close()
        return True

    def _esp_open(self, backend, kind, message):
        team = KIND_TEAM[kind]
        user = backend._esp_responsible(team)
        incident = self.create(
            {
                "backend_id": backend.id,
                "kind": kind,
                "team": team,
                "user_id": user.id,
                "message": message,
            }
        )
        incident.activity_schedule(
            "mail.mail_activity_data_todo",
            user_id=user.id,
            summary=incident.display_name,
            note=escape(message),
        )
        incident._esp_email()
        return incident

    def _esp_email(self):
        """One email to the backend's alert recipients, queued with the mails."""
        self.ensure_one()
        recipients = (self.backend_id.alert_emails or "").strip()
        if not recipients:
            return False
        subject = _("ESP Sync alert: %s", self.display_name)
        body = Markup("<p>%s</p><p>%s</p>") % (
            self.message,
            _("Open ESP Sync > Operations > Incidents in Odoo."),
        )
        mail = self.env["mail.mail"].create(
            {
                "subject": subject,
                "body_html": body,
                "email_to": recipients,
                "email_from": self.backend_id.company_id.email_formatted
                or self.env.user.email_formatted,
                "model": self._name,
                "res_id": self.id,
                "auto_delete": False,
            }
        )
        self.message_post(
            body=_("Alert emailed to %s.", recipients),
            subtype_xmlid="mail.mt_note",
        )
        return mail

    def _esp_close(self):
        now = fields.Datetime.now()
        for incident in self:
            incident.write({"state": "closed", "closed_at": now})
            incident.activity_ids.action_feedback(
                feedback=_("Closed by itself: health returned.")
            )
            incident.message_post(
                body=_("Health returned: the incident is closed."),
                subtype_xmlid="mail.mt_note",
            )
