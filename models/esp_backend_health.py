# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import _, api, fields, models

from .esp_sync_incident import ERROR_RATE_MIN_TRIED, ERROR_RATE_WINDOW


def _default_responsible(model):
    """The user who sets the backend up; the administrator for automated setups."""
    if model.env.user._is_superuser():
        return model.env.ref("base.user_admin", raise_if_not_found=False)
    return model.env.user


class EspBackend(models.Model):
    """Live health figures and who hears about incidents, per backend."""

    _inherit = "esp.backend"

    oldest_pending_minutes = fields.Integer(
        "Oldest pending (min)",
        compute="_compute_live_health",
        help="How long the oldest change still waiting has waited.",
    )
    rate_limited = fields.Boolean(
        compute="_compute_live_health",
        help="The ESP asked us to slow down: nothing is sent before the pause ends.",
    )
    rate_limited_since = fields.Datetime(
        readonly=True,
        copy=False,
        help="Seen paused by the health check since this time.",
    )
    error_rate_alert_percent = fields.Integer(
        "Error rate alert (%)",
        default=20,
        help="Alert when more than this share of the last hour's tried "
        "deliveries failed (0: never).",
    )
    rate_limit_alert_minutes = fields.Integer(
        "Rate limit alert (minutes)",
        default=60,
        help="Alert when the ESP keeps us paused for longer than this (0: never).",
    )
    marketing_user_id = fields.Many2one(
        "res.users",
        "Marketing responsible",
        default=_default_responsible,
        help="Receives the to-do of incidents marketing owns.",
    )
    operations_user_id = fields.Many2one(
        "res.users",
        "Operations responsible",
        default=_default_responsible,
        help="Receives the to-do of backlog, latency and rate-limit incidents.",
    )
    it_user_id = fields.Many2one(
        "res.users",
        "IT responsible",
        default=_default_responsible,
        help="Receives the to-do of credential and configuration incidents.",
    )
    alert_emails = fields.Char(
        "Alert emails",
        help="Comma-separated addresses emailed once when an incident opens.",
    )
    incident_ids = fields.One2many("esp.sync.incident", "backend_id", "Incidents")
    open_incident_count = fields.Integer(compute="_compute_open_incident_count")

    def _compute_live_health(self):
        now = fields.Datetime.now()
        for backend in self:
            oldest = backend.oldest_pending_at
            backend.oldest_pending_minutes = (
                int((now - oldest).total_seconds() // 60) if oldest else 0
            )
            backend.rate_limited = bool(
                backend.paused_until and backend.paused_until > now
            )

    @api.depends("incident_ids.state")
    def _compute_open_incident_count(self):
        counts = dict(
            self.env["esp.sync.incident"]._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "open")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.open_incident_count = counts.get(backend, 0)

    def _esp_responsible(self, team):
        """The user who gets the to-do for ``team``'s incidents."""
        self.ensure_one()
        # The to-do's user must be able to open the incident.
        for user in (self[f"{team}_user_id"], self.create_uid):
            if (
                user
                and not user._is_superuser()
                and user.has_group("esp_sync.group_esp_sync_user")
                and self.company_id in user.company_ids
            ):
                return user
        return self.env.ref("base.user_admin")

    def action_open_health(self):
        return self._esp_open_action("esp_sync.action_esp_sync_health")

    def action_open_incidents(self):
        return self._esp_open_action("esp_sync.action_esp_sync_incident")

    @api.model
    def _cron_check_health(self):
        """Open and close incidents; an archived backend's incidents close."""
        backends = self.sudo().with_context(active_test=False).search([])
        return self.env["esp.sync.incident"]._esp_check(backends)

    def _esp_health_problems(self, now):
        """{kind: message} for each threshold this backend is over now."""
        self.ensure_one()
        problems = {}
        if not self.active:
            return problems
        ledger = self.env["esp.sync.event"].sudo()
        if self.latency_alert_minutes > 0:
            limit = now - timedelta(minutes=self.latency_alert_minutes)
            late = ledger.search_count(
                [
                    ("backend_id", "=", self.id),
                    ("state", "=", "pending"),
                    ("occurred_at", "<", limit),
                ]
            )
            if late:
                problems["latency"] = _(
                    "%(count)s change(s) have waited more than %(minutes)s minutes "
                    "to reach %(name)s: segments in the ESP are going stale. "
                    "Check the job queue and the exceptions.",
                    count=late,
                    minutes=self.latency_alert_minutes,
                    name=self.name,
                )
        if self.error_rate_alert_percent > 0:
            tried = dict(
                ledger._read_group(
                    [
                        ("backend_id", "=", self.id),
                        ("state", "in", ("sent", "failed")),
                        ("occurred_at", ">=", now - ERROR_RATE_WINDOW),
                    ],
                    ["state"],
                    ["__count"],
                )
            )
            total = sum(tried.values())
            rate = 100.0 * tried.get("failed", 0) / total if total else 0.0
            if total >= ERROR_RATE_MIN_TRIED and rate > self.error_rate_alert_percent:
                problems["error_rate"] = _(
                    "%(rate)d%% of the last hour's deliveries to %(name)s failed "
                    "(%(failed)s of %(total)s). Open the exceptions, grouped by "
                    "category.",
                    rate=rate,
                    name=self.name,
                    failed=tried.get("failed", 0),
                    total=total,
                )
        rejected = (
            self.env["esp.sync.exception"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", self.id),
                    ("category", "=", "authentication"),
                    ("state", "=", "open"),
                ]
            )
        )
        if rejected:
            problems["authentication"] = _(
                "%(name)s rejects our credentials: nothing reaches it until IT "
                "enters a valid API key and presses Test connection.",
                name=self.name,
            )
        paused = bool(self.paused_until and self.paused_until > now)
        if not paused:
            if self.rate_limited_since:
                self.rate_limited_since = False
        elif not self.rate_limited_since:
            self.rate_limited_since = now
        elif self.rate_limit_alert_minutes > 0 and (
            now - self.rate_limited_since
            >= timedelta(minutes=self.rate_limit_alert_minutes)
        ):
            problems["rate_limit"] = _(
                "%(name)s has been rate limiting us since %(since)s: deliveries "
                "crawl. Spread bulk sends (backfills, resyncs) or raise the "
                "account's limits with the ESP.",
                name=self.name,
                since=fields.Datetime.to_string(self.rate_limited_since),
            )
        drift = self._esp_drift_problem()
        if drift:
            problems["drift"] = drift
        return problems
