# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The backfill's poll job: the ESP's progress on the bulk jobs sent, and
the end of the run once everything is sent and processed."""

from odoo import _, models

from .. import const
from ..providers import EspError
from ..providers.base import BulkJob
from .esp_backfill_pacing import watch
from .esp_sync_job_guard import guarded_job


class EspBackfillPoll(models.Model):
    _inherit = "esp.backfill"

    def _esp_enqueue_poll(self, eta=None, last=False):
        """A poll in ``eta`` seconds (default BACKFILL_POLL_SECONDS); ``last``:
        the one after the last chunk, beside any poll already waiting."""
        self.ensure_one()
        self.with_delay(
            channel=const.CHANNEL_BULK,
            priority=const.PRIORITY_BULK + 10,
            identity_key=f"esp_backfill:{self.id}:{'last_poll' if last else 'poll'}",
            eta=eta or const.BACKFILL_POLL_SECONDS,
            description=_("Backfill progress: %s", self.name),
        )._esp_poll()

    def _esp_poll(self):
        """Job: refresh the ESP-side status of the batches still processing."""
        self.ensure_one()
        with guarded_job(self.backend_id, _("Backfill poll of %s", self.display_name)):
            return self._esp_poll_guarded()

    def _esp_poll_guarded(self):
        adapter = self.backend_id._esp_adapter()
        pacing = watch(adapter)
        for batch in self.batch_ids.filtered(lambda b: b.state == "processing"):
            if pacing.wait:
                break  # a rate-limit window is used up: the rest next time
            try:
                job = adapter.get_bulk_job(
                    BulkJob(job_id=batch.remote_job_id, total=batch.total)
                )
            except EspError as err:
                if not err.retryable:
                    raise
                raise self._esp_retry_job(err) from err
            batch._esp_update(job)
            self.error_count += len(job.errors)
            self._esp_record_errors(job.errors)
        if self.batch_ids.filtered(lambda b: b.state == "processing"):
            self._esp_enqueue_poll(eta=pacing.wait or None)
        elif self.state == "running" and self._esp_all_sent():
            return self._esp_finish()
        return _("Polled.")

    def _esp_all_sent(self):
        if self.scope == "catalog":
            return not self._esp_templates_query(self.cursor_id, 1)
        last_phase = "profiles" if self.scope == "profiles" else "orders"
        if self.phase != last_phase:
            return False
        query = (
            self._esp_partners_query
            if last_phase == "profiles"
            else self._esp_orders_query
        )
        return not query(self.cursor_id, 1)

    def _esp_record_errors(self, errors):
        """One data exception per record the ESP or our checks refused."""
        exceptions = self.env["esp.sync.exception"]
        for key, message in errors:
            record = self._esp_record_for_key(key)
            exceptions._esp_record(
                self.backend_id,
                record or self,
                EspError(f"{key}: {message}", category="data", code="backfill"),
            )

    def _esp_record_for_key(self, key):
        """The partner (by email) or order (by id) an error refers to."""
        key = str(key or "")
        if "@" in key:
            return (
                self.env["res.partner"]
                .sudo()
                .search([("email_normalized", "=", key.lower())], limit=1)
            )
        if key.isdigit():
            return self.env["sale.order"].sudo().browse(int(key)).exists()
        return None
