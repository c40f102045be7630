# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The backfill's step job: one chunk of the current phase per job."""

from datetime import timedelta

from odoo import _, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError
from ..providers.retry import retry_delay
from .esp_backfill_pacing import watch
from .esp_sync_job_guard import guarded_job

# Products queued per step of a catalogue push.
CATALOG_CHUNK = 200


class EspBackfillStep(models.Model):
    _inherit = "esp.backfill"

    def _esp_enqueue_step(self, eta=None):
        self.ensure_one()
        self.with_delay(
            channel=const.CHANNEL_BULK,
            priority=const.PRIORITY_BULK + 10,
            identity_key=f"esp_backfill:{self.id}:step",
            eta=eta,
            description=_("Backfill step: %s", self.name),
        )._esp_step()

    def _esp_step(self):
        """Job: send the next chunk of the current phase as one bulk call."""
        self.ensure_one()
        if self.state != "running":
            return _("Not running (%s).", self.state)
        if not self.backend_id.active:
            return _("Backend archived: the backfill waits until it is active again.")
        with guarded_job(self.backend_id, _("Backfill step of %s", self.display_name)):
            return self._esp_step_guarded()

    def _esp_step_guarded(self):
        try:
            adapter = self.backend_id._esp_adapter()
            watch(adapter)
            if not self.started_at:
                for audience in self.backend_id._esp_audience_adapters():
                    audience.begin_backfill()
                self.started_at = fields.Datetime.now()
            return self._esp_send_chunk(adapter)
        except EspError as err:
            if err.retryable:
                raise self._esp_retry_job(err) from err
            message = self.backend_id._esp_redact(err)
            self.write({"state": "failed", "last_error": message})
            self.env["esp.sync.exception"]._esp_record(self.backend_id, self, err)
            return message

    def _esp_chunk_size(self):
        """Records per bulk call, within the ESP's limits (see const)."""
        return const.BACKFILL_CHUNK[self.backend_id.provider][self.phase]

    def _esp_send_chunk(self, adapter):
        in_flight = self.batch_ids.filtered(lambda b: b.state == "processing")
        if len(in_flight) >= const.BACKFILL_MAX_IN_FLIGHT:
            # Let the ESP work through what it has before sending more.
            self._esp_enqueue_poll()
            self._esp_enqueue_step(
                eta=fields.Datetime.now()
                + timedelta(seconds=const.BACKFILL_POLL_SECONDS * 3)
            )
            return _("%s bulk jobs in flight: waiting.", len(in_flight))
        if self.phase == "catalog":
            return self._esp_capture_catalog_chunk(adapter)
        chunk = self._esp_chunk_size()
        if self.phase == "profiles":
            records = self._esp_partners_query(self.cursor_id, chunk)
        else:
            records = self._esp_orders_query(self.cursor_id, chunk)
        if not records:
            return self._esp_next_phase(adapter)
        partners = records if self.phase == "profiles" else records.partner_id
        # The same scope as live capture: shared partners go only to the
        # backends of the companies they deal with.
        partners = self.backend_id._esp_in_scope(partners)
        groups = self.env["esp.audience.rule"]._esp_audience_groups(
            self.backend_id, adapter, partners
        )
        sent = errors = 0
        processing = False
        for audience, audience_partners in groups:
            batch = self._esp_send_group(
                audience, records, audience_partners, records[0].id, records[-1].id
            )
            sent += batch.total
            errors += batch.failed
            processing = processing or batch.state == "processing"
        self.write(
            {
                "cursor_id": records[-1].id,
                "sent_count": self.sent_count + len(records),
                "error_count": self.error_count + errors,
            }
        )
        # A rate-limit window used up: the next chunk of the phase waits for
        # its reset (a short chunk ends the phase: the next one calls
        # another endpoint, or none).
        full = len(records) >= chunk
        self._esp_enqueue_step(eta=(full and adapter.transport.wait) or None)
        if processing:
            self._esp_enqueue_poll()
        return _("%(count)s %(phase)s sent.", count=sent, phase=self.phase)

    def _esp_capture_catalog_chunk(self, adapter):
        """The next products go to the ledger as catalogue items; the engine
        delivers them (one upsert per item, unchanged ones skipped)."""
        templates = self._esp_templates_query(self.cursor_id, CATALOG_CHUNK)
        if not templates:
            return self._esp_next_phase(adapter)
        templates._esp_capture("catalog", self.backend_id)
        self.write(
            {
                "cursor_id": templates[-1].id,
                "sent_count": self.sent_count + len(templates),
            }
        )
        self._esp_enqueue_step()
        return _("%s products queued.", len(templates))

    def _esp_send_group(self, adapter, records, partners, first_id, last_id):
        """One bulk call for the records of one audience; returns its batch."""
        builder = self.env["esp.sync.values"]
        if self.phase == "profiles":
            values, errors = builder._esp_backfill_profiles(
                self.backend_id, records & partners
            )
            job = adapter.bulk_import_profiles(values) if values else None
        else:
            orders = records.filtered(lambda o: o.partner_id in partners)
            values, errors = builder._esp_backfill_orders(self.backend_id, orders)
            job = adapter.bulk_send_events(values) if values else None
        self._esp_record_errors(errors)
        return self.env["esp.backfill.batch"].create(
            {
                "backfill_id": self.id,
                "kind": self.phase,
                "remote_job_id": job.job_id if job else False,
                "state": "processing" if job and not job.done else "complete",
                "total": len(values),
                "failed": len(errors),
                "first_record_id": first_id,
                "last_record_id": last_id,
            }
        )

    def _esp_next_phase(self, adapter):
        if self.phase == "profiles" and self.scope == "all":
            self.write({"phase": "orders", "cursor_id": 0})
            self._esp_enqueue_step()
            return _("Profiles sent; orders next.")
        if self.batch_ids.filtered(lambda b: b.state == "processing"):
            # Look again soon: the run ends at the poll that finds all done.
            self._esp_enqueue_poll(eta=const.BACKFILL_FINAL_POLL_SECONDS, last=True)
            return _("Everything sent; waiting for the ESP to finish.")
        return self._esp_finish()

    def _esp_finish(self):
        for audience in self.backend_id._esp_audience_adapters():
            audience.end_backfill()
        self.write({"state": "done", "finished_at": fields.Datetime.now()})
        self.message_post(
            body=_(
                "Backfill finished: %(sent)s records sent, %(errors)s errors.",
                sent=self.sent_count,
                errors=self.error_count,
            )
        )
        return _("Backfill finished.")

    def _esp_retry_job(self, error):
        """The one retry policy for backfill jobs: wait as the ESP says (or
        back off), without using up the job's retries, so a rate-limited or
        briefly unreachable ESP never leaves a backfill half done."""
        message = self.backend_id._esp_redact(error)
        self.last_error = message[:250]
        return RetryableJobError(
            message, seconds=int(retry_delay(error, 0)) or 1, ignore_retry=True
        )
