# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The backend's jobs and crons: dispatch entry, scheduled batches, latency
alerts and the consent poll."""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError
from ..providers.retry import retry_delay
from .esp_sync_job_guard import guarded_job


class EspBackendJobs(models.Model):
    _inherit = "esp.backend"

    # ---------------------------------------------------------------- jobs
    def _esp_dispatch(self, channel):
        """Job: deliver this backend's due ordering groups (esp.sync.delivery)."""
        self.ensure_one()
        return self.env["esp.sync.delivery"]._esp_dispatch(self, channel)

    def _esp_enqueue_pending(self, scheduled_only=False):
        """Make every pending row of this backend due now and wake delivery."""
        self.ensure_one()
        mode = SQL("AND mode = 'scheduled'") if scheduled_only else SQL("")
        self.env.cr.execute(
            SQL(
                """
                UPDATE esp_sync_event SET due_at = %s
                 WHERE backend_id = %s AND state = 'pending'
                   AND (due_at IS NULL OR due_at > %s) %s
                """,
                fields.Datetime.now(),
                self.id,
                fields.Datetime.now(),
                mode,
            )
        )
        count = self.env.cr.rowcount
        self.env["esp.sync.event"].invalidate_model(["due_at"])
        if count:
            self.env["esp.sync.delivery"]._esp_wake_pending(self)
        return count

    # ---------------------------------------------------------------- crons
    @api.model
    def _cron_deliver_scheduled(self):
        """Deliver the changes of scheduled streams of backends now due."""
        now = fields.Datetime.now()
        for backend in self.search([]):
            due = not backend.last_batch_at or (
                backend.last_batch_at + timedelta(minutes=backend.batch_interval) <= now
            )
            if due:
                backend._esp_enqueue_pending(scheduled_only=True)
                backend.sudo().last_batch_at = now

    @api.model
    def _cron_check_latency(self):
        """Health check (kept under its old name for existing cron records):
        incidents that reach people, see ``esp.sync.incident``."""
        return self._cron_check_health()

    @api.model
    def _cron_poll_consent(self):
        """Pull unsubscribes and suppressions made in the ESPs since last poll."""
        for backend in self.search([("sync_consent", "=", True)]):
            backend.with_delay(
                channel=const.CHANNEL_URGENT,
                priority=const.PRIORITY_URGENT,
                identity_key=f"esp_sync:{backend.id}:poll_consent",
            )._esp_poll_consent()

    def _esp_poll_consent(self):
        """Job: fetch consent changes made at the ESP and apply them in Odoo."""
        self.ensure_one()
        if not self.active:
            return _("Backend archived: not polled.")
        # First poll: the whole history (opt-outs made before esp_sync count).
        with guarded_job(self, _("Consent poll of %s", self.name)):
            return self._esp_poll_consent_guarded()

    def _esp_poll_consent_guarded(self):
        since = self.last_consent_poll_at or fields.Datetime.to_datetime("2000-01-01")
        started = fields.Datetime.now()
        try:
            updates = []
            for adapter in self._esp_audience_adapters():
                updates += adapter.fetch_consent_updates(since)
        except EspError as err:
            if err.retryable:
                # Soon, by the one retry policy, not at the next cron run.
                raise RetryableJobError(
                    str(err), seconds=int(retry_delay(err, 0)), ignore_retry=True
                ) from err
            self.env["esp.sync.exception"]._esp_record(self, self, err)
            return str(err)
        partners = self.env["res.partner"].with_context(esp_consent_source="esp_poll")
        applied = partners._esp_apply_consent_updates(self, updates)
        self.sudo().last_consent_poll_at = started
        return f"{len(updates)} consent changes read, {applied} partners updated"
