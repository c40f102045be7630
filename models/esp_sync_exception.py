# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from .. import const
from ..providers import EspError
from ..providers.base import redact

# What the owning team does about each category: shown on the form.
WHAT_TO_DO = {
    "data": "Fix the record in Odoo (the field named in the message, often the "
    "email or the phone), save it, then press Retry.",
    "configuration": "IT: check the backend settings (list, audience, store, "
    "field mapping) against the ESP account, then press Retry.",
    "authentication": "IT: the ESP rejected the API key. Enter a valid key on "
    "the backend, press Test connection, then Retry.",
    "rate_limit": "Nothing to do: deliveries resume when the ESP's pause ends. "
    "If it lasts, spread bulk sends (backfills, resyncs).",
    "transient": "The ESP was down or slow. Retry once its status page is "
    "green; the engine retries by itself in the meantime.",
    "unexpected": "IT: a bug or an unknown answer. Send the traceback to the "
    "esp_sync maintainers; Retry after the fix.",
    "release": "Sales: the order waits for the backend's release gate (stock "
    "reservation, payment or credit hold). Fix the order; it is released "
    "within minutes once it passes, and this closes by itself.",
}


class EspSyncException(models.Model):
    """A delivery that needs a person: what failed, why, and who fixes it."""

    _name = "esp.sync.exception"
    _description = "ESP Sync Exception"
    _inherit = ["mail.thread"]
    _order = "last_seen desc, id desc"
    _rec_name = "message"

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    provider = fields.Selection(related="backend_id.provider", store=True)
    res_model = fields.Char("Model", required=True, index=True)
    res_id = fields.Many2oneReference("Record id", model_field="res_model", index=True)
    record_name = fields.Char("Record")
    stream = fields.Selection(
        [(code, label) for code, label in const.STREAMS.items()],
        index=True,
        help="The stream whose delivery failed; a later success of the same "
        "stream closes the exception.",
    )
    category = fields.Selection(const.ERROR_CATEGORIES, required=True, index=True)
    team = fields.Selection(
        const.TEAMS,
        compute="_compute_team",
        store=True,
        readonly=False,
        help="The team that owns this kind of problem.",
    )
    code = fields.Char(help="The ESP's error code or esp_sync's own.")
    field = fields.Char(help="The field the ESP named, when it named one.")
    message = fields.Text(required=True)
    traceback = fields.Text(
        groups="base.group_system",
        readonly=True,
        help="Where an unexpected error happened, for IT.",
    )
    first_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    last_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    count = fields.Integer(default=1)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved"), ("ignored", "Ignored")],
        default="open",
        required=True,
        tracking=True,
        index=True,
    )
    event_ids = fields.One2many("esp.sync.event", "exception_id", "Events")
    user_id = fields.Many2one(
        "res.users",
        "Assigned to",
        tracking=True,
        index=True,
        help="Who is clearing this exception.",
    )
    ignore_reason = fields.Text(readonly=True, tracking=True)
    what_to_do = fields.Text("What to do", compute="_compute_what_to_do")
    external_id = fields.Char(
        "ESP id",
        compute="_compute_external_id",
        help="The record's identifier at the ESP, when it has one.",
    )

    @api.depends("category")
    def _compute_what_to_do(self):
        for exception in self:
            exception.what_to_do = WHAT_TO_DO.get(exception.category, "")

    def _compute_external_id(self):
        bindings = self.env["esp.sync.binding"].sudo()
        for exception in self:
            exception.external_id = bindings.search(
                [
                    ("backend_id", "=", exception.backend_id.id),
                    ("res_model", "=", exception.res_model),
                    ("res_id", "=", exception.res_id),
                    ("external_id", "!=", False),
                ],
                limit=1,
            ).external_id

    @api.depends("category")
    def _compute_team(self):
        for exception in self:
            exception.team = const.CATEGORY_TEAM.get(exception.category, "it")

    @api.model
    def _esp_record(
        self,
        backend,
        record,
        error,
        events=None,
        stream=None,
        trace=None,
        category=None,
    ):
        """Open an exception for ``record`` or count one more occurrence.

        One open exception per backend, record, stream and category: the
        consent and profile jobs of one person never write the same row.
        """
        try:
            secrets = backend._esp_settings().secrets
        except EspError:
            secrets = ()  # no key, no secret in clear that could leak
        message = redact(error.message if hasattr(error, "message") else error, secrets)
        if getattr(error, "field", None):
            message = _(
                "%(message)s (field: %(field)s)", message=message, field=error.field
            )
        category = category or str(
            getattr(error, "category", "data").value
            if hasattr(getattr(error, "category", None), "value")
            else getattr(error, "category", "data")
        )
        trace = redact(trace, secrets) if trace else False
        existing = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("stream", "=", stream or False),
                ("category", "=", category),
                ("state", "=", "open"),
            ],
            limit=1,
        )
        if existing:
            existing.write(
                {
                    "count": existing.count + 1,
                    "last_seen": fields.Datetime.now(),
                    "message": message,
                    "traceback": trace,
                }
            )
            return existing
        return self.sudo().create(
            {
                "backend_id": backend.id,
                "res_model": record._name,
                "res_id": record.id,
                "record_name": record.display_name,
                "stream": stream or False,
                "category": category,
                "code": getattr(error, "code", None) or False,
                "field": getattr(error, "field", None) or False,
                "message": message,
                "traceback": trace,
            }
        )

    @api.model
    def _esp_resolve(self, backend, record, stream=None):
        """A delivery of ``record``'s ``stream`` worked: close what it was about."""
        self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("stream", "=", stream or False),
                ("state", "=", "open"),
            ]
        ).write({"state": "resolved"})

    def _esp_check_manager(self):
        """Clearing the queue is for ESP Sync managers: checked on the server."""
        if not self.env.su and not self.env.user.has_group(
            "esp_sync.group_esp_sync_manager"
        ):
            raise AccessError(_("Only ESP Sync managers can clear exceptions."))
        self.check_access("write")

    def action_retry(self):
        """Put the failed events back in the queue (once the cause is fixed)."""
        self._esp_check_manager()  # the ledger itself is read-only
        events = self.sudo().event_ids.filtered(lambda e: e.state == "failed")
        events.action_retry()
        return True

    def action_ignore(self, reason=None):
        """Stop retrying: the failed rows are skipped, the reason kept."""
        self._esp_check_manager()
        self.write({"state": "ignored", "ignore_reason": reason or False})
        failed = self.sudo().event_ids.filtered(lambda e: e.state == "failed")
        failed.write(
            {"state": "skipped", "note": _("Ignored by %s", self.env.user.name)}
        )
        # What waited behind the ignored rows goes on.
        self.env["esp.sync.delivery"]._esp_release_groups(failed)
        return True

    def action_ignore_wizard(self):
        """Ask for the reason before ignoring (one or many exceptions)."""
        self._esp_check_manager()
        return {
            "type": "ir.actions.act_window",
            "name": _("Ignore exceptions"),
            "res_model": "esp.sync.exception.ignore",
            "view_mode": "form",
            "target": "new",
            "context": {"default_exception_ids": [fields.Command.set(self.ids)]},
        }

    def action_assign_to_me(self):
        self._esp_check_manager()
        self.write({"user_id": self.env.uid})
        return True

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "target": "current",
        }
