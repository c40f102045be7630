# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation: read what an ESP holds and list where it disagrees.

A run reads the ESP side of in-scope partners (all, or a random sample)
through the adapter's ``read_profiles``, in chunks run as queue jobs one
after the other (progress on the form, cancellable), and compares it with
what Odoo says they should be, built by the same code as deliveries
(``esp.sync.values``). Differences become ``esp.reconcile.line`` rows with a
fix: re-push from Odoo, or accept the ESP's opt-out.
"""

import json
import random

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools.safe_eval import safe_eval

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError
from ..providers.retry import retry_delay
from .esp_sync_job_guard import guarded_job

CHUNK = 100


class EspReconcile(models.Model):
    _name = "esp.reconcile"
    _description = "ESP reconciliation run"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    scope = fields.Selection(
        [
            ("all", "All in-scope contacts"),
            ("domain", "In-scope contacts matching a filter"),
            ("sample", "A random sample"),
        ],
        required=True,
        default="sample",
    )
    sample_size = fields.Integer(default=200)
    domain = fields.Char("Filter", default="[]")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("running", "Running"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        tracking=True,
    )
    partner_ids_json = fields.Text(readonly=True)
    total_count = fields.Integer("Contacts", readonly=True)
    checked_count = fields.Integer("Checked", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    line_ids = fields.One2many("esp.reconcile.line", "reconcile_id", "Differences")
    open_line_count = fields.Integer(compute="_compute_line_counts")
    scheduled = fields.Boolean(readonly=True, help="Started by the daily check.")
    drift_percent = fields.Float(
        "Drift (%)",
        readonly=True,
        help="Share of the contacts checked with at least one difference.",
    )
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)

    @api.depends("backend_id", "create_date")
    def _compute_name(self):
        for run in self:
            run.name = _(
                "%(backend)s, %(date)s",
                backend=run.backend_id.name or "",
                date=fields.Datetime.to_string(
                    run.create_date or fields.Datetime.now()
                )[:16],
            )

    @api.depends("checked_count", "total_count")
    def _compute_progress(self):
        for run in self:
            total = run.total_count
            run.progress = 100.0 * run.checked_count / total if total else 0.0

    @api.depends("line_ids.state")
    def _compute_line_counts(self):
        for run in self:
            run.open_line_count = len(
                run.line_ids.filtered(lambda line: line.state == "open")
            )

    # ---------------------------------------------------------------- actions
    def _esp_check_rights(self):
        if not self.env.su and not self.env.user.has_group(
            "esp_sync.group_esp_sync_manager"
        ):
            raise AccessError(_("Only ESP Sync managers can reconcile."))

    def action_start(self):
        """Choose the contacts and queue the first chunk."""
        self._esp_check_rights()
        for run in self.filtered(lambda r: r.state == "draft"):
            ids = run._esp_target_ids()
            run.sudo().write(
                {
                    "state": "running",
                    "partner_ids_json": json.dumps(ids),
                    "total_count": len(ids),
                    "checked_count": 0,
                    "started_at": fields.Datetime.now(),
                }
            )
            run._esp_enqueue_chunk()
        return True

    def action_cancel(self):
        self._esp_check_rights()
        self.filtered(lambda r: r.state in ("draft", "running")).sudo().write(
            {"state": "cancelled", "finished_at": fields.Datetime.now()}
        )
        return True

    def action_open_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "esp_sync.action_esp_reconcile_line"
        )
        action["domain"] = [("reconcile_id", "=", self.id)]
        action["context"] = {"search_default_open": 1, "search_default_group_kind": 1}
        return action

    # -------------------------------------------------------------- selection
    def _esp_target_ids(self):
        """Ids of the in-scope contacts with an email (sampled if asked)."""
        backend = self.backend_id.sudo()
        own = self.env["res.company"].sudo().search([]).partner_id.ids
        domain = safe_eval(backend.partner_domain or "[]") + [
            ("company_id", "in", (False, backend.company_id.id)),
            ("id", "not in", own),
            ("email", "!=", False),
            ("esp_erased_at", "=", False),
        ]
        if self.scope == "domain":
            domain += safe_eval(self.domain or "[]")
        partners = self.env["res.partner"].sudo().search(domain, order="id")
        partners = backend._esp_in_scope(partners)
        ids = partners.ids
        if self.scope == "sample" and len(ids) > self.sample_size > 0:
            ids = sorted(random.sample(ids, self.sample_size))
        return ids

    # ------------------------------------------------------------------- jobs
    def _esp_enqueue_chunk(self):
        self.with_delay(
            channel=const.CHANNEL_BULK,
            priority=const.PRIORITY_BULK,
            description=_("Reconcile %s", self.name),
        )._esp_check_chunk()

    def _esp_check_chunk(self):
        """Job: compare the next chunk of contacts, then queue the next."""
        self.ensure_one()
        if self.state != "running":
            return _("Not running (%s).", self.state)
        with guarded_job(self.backend_id, _("Reconciliation %s", self.name)):
            try:
                return self._esp_check_chunk_guarded()
            except EspError as err:
                if err.retryable:
                    # The one retry policy: wait as the ESP says, no count.
                    raise RetryableJobError(
                        str(err),
                        seconds=int(retry_delay(err, 0)) or 1,
                        ignore_retry=True,
                    ) from err
                self.sudo().write(
                    {"state": "cancelled", "finished_at": fields.Datetime.now()}
                )
                self.env["esp.sync.exception"]._esp_record(self.backend_id, self, err)
                return str(err)

    def _esp_check_chunk_guarded(self):
        ids = json.loads(self.partner_ids_json or "[]")
        chunk = ids[self.checked_count : self.checked_count + CHUNK]
        if chunk:
            partners = self.env["res.partner"].sudo().browse(chunk).exists()
            lines = self.env["esp.reconcile.line"]._esp_compare_chunk(self, partners)
            self.sudo().checked_count = self.checked_count + len(chunk)
        else:
            lines = self.env["esp.reconcile.line"]
        if self.checked_count < len(ids):
            self._esp_enqueue_chunk()
            return _("%s contacts checked.", self.checked_count)
        drifted = len(self.line_ids.partner_id)
        self.sudo().write(
            {
                "state": "done",
                "finished_at": fields.Datetime.now(),
                "drift_percent": 100.0 * drifted / self.checked_count
                if self.checked_count
                else 0.0,
            }
        )
        self.message_post(
            body=_(
                "Reconciliation finished: %(checked)s contacts checked, "
                "%(open)s differences.",
                checked=self.checked_count,
                open=self.open_line_count,
            )
        )
        return _("Done (%s differences in the last chunk).", len(lines))


class EspBackend(models.Model):
    _inherit = "esp.backend"

    reconcile_sample_size = fields.Integer(
        "Daily reconciliation sample",
        default=100,
        help="Contacts the daily check compares with the ESP (0: no daily check).",
    )
    drift_alert_percent = fields.Float(
        "Drift alert (%)",
        default=5.0,
        help="Alert when more than this share of the daily sample differs.",
    )

    @api.model
    def _cron_reconcile(self):
        """Daily: a sampled reconciliation of each active backend."""
        runs = self.env["esp.reconcile"].sudo()
        for backend in self.sudo().search([("reconcile_sample_size", ">", 0)]):
            if runs.search_count(
                [("backend_id", "=", backend.id), ("state", "=", "running")]
            ):
                continue
            run = runs.create(
                {
                    "backend_id": backend.id,
                    "scope": "sample",
                    "sample_size": backend.reconcile_sample_size,
                    "scheduled": True,
                }
            )
            run.action_start()

    def _esp_drift_problem(self):
        """The message of a drift incident, or None (health check)."""
        self.ensure_one()
        last = (
            self.env["esp.reconcile"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.id),
                    ("scheduled", "=", True),
                    ("state", "=", "done"),
                ],
                order="finished_at desc, id desc",
                limit=1,
            )
        )
        if not (
            last
            and self.drift_alert_percent > 0
            and last.drift_percent > self.drift_alert_percent
            and last.open_line_count
        ):
            return None
        return _(
            "%(rate).1f%% of the contacts sampled at %(name)s differ from Odoo "
            "(%(open)s open differences): open the reconciliation %(run)s.",
            rate=last.drift_percent,
            name=self.name,
            open=last.open_line_count,
            run=last.name,
        )

    def action_open_reconcile(self):
        """A new reconciliation run of this backend (form)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "esp.reconcile",
            "view_mode": "form",
            "context": {"default_backend_id": self.id},
            "target": "current",
        }
