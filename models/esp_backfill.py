# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools.safe_eval import safe_eval

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError
from ..providers.base import BulkJob
from ..providers.retry import retry_delay
from .esp_sync_job_guard import guarded_job

# Products queued per step of a catalogue push.
CATALOG_CHUNK = 200


class EspBackfill(models.Model):
    """A historical load of profiles and past orders into one backend.

    It runs as a chain of bulk-channel jobs, one chunk each, remembering the
    last record sent (``cursor_id``): pausing, a crash or a restart resumes
    where it stopped. Orders are sent with ``backfill`` set so no ESP flow
    fires for them.
    """

    _name = "esp.backfill"
    _description = "ESP Historical Backfill"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one("esp.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    scope = fields.Selection(
        [
            ("all", "Profiles, then orders"),
            ("profiles", "Profiles"),
            ("orders", "Orders"),
            ("catalog", "Catalogue (every product)"),
        ],
        default="all",
        required=True,
    )
    orders_since = fields.Date(help="Only orders placed on or after this date.")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("done", "Done"),
            ("failed", "Failed"),
        ],
        default="draft",
        required=True,
        tracking=True,
    )
    phase = fields.Selection(
        [("profiles", "Profiles"), ("orders", "Orders"), ("catalog", "Catalogue")],
        readonly=True,
    )
    cursor_id = fields.Integer(
        readonly=True, help="Id of the last record sent in the current phase."
    )
    total_count = fields.Integer("Records", readonly=True)
    sent_count = fields.Integer("Sent", readonly=True)
    error_count = fields.Integer("Errors", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    batch_ids = fields.One2many("esp.backfill.batch", "backfill_id", "Batches")
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    last_error = fields.Text(readonly=True)

    @api.depends("backend_id", "scope")
    def _compute_name(self):
        labels = dict(self._fields["scope"].selection)
        for run in self:
            run.name = _(
                "%(backend)s: %(scope)s",
                backend=run.backend_id.name,
                scope=labels.get(run.scope),
            )

    @api.depends("sent_count", "total_count", "state")
    def _compute_progress(self):
        for run in self:
            if run.state == "done":
                run.progress = 100.0
            else:
                run.progress = (
                    100.0 * run.sent_count / run.total_count if run.total_count else 0.0
                )

    # ---------------------------------------------------------------- actions
    def _esp_check_rights(self):
        """Backfills are started and steered by ESP Sync managers, within
        their companies (checked here: views only hide buttons)."""
        self.backend_id._esp_check_rights()
        self.check_access("write")

    def action_start(self):
        self._esp_check_rights()
        for run in self.filtered(lambda r: r.state == "draft"):
            if run.scope == "catalog":
                run.write(
                    {
                        "phase": "catalog",
                        "total_count": len(run._esp_templates_query()),
                        "state": "running",
                        "cursor_id": 0,
                    }
                )
                run._esp_enqueue_step()
                continue
            run.phase = "orders" if run.scope == "orders" else "profiles"
            run.total_count = len(run._esp_partners_query()) * (run.scope != "orders")
            run.total_count += len(run._esp_orders_query()) * (run.scope != "profiles")
            run.write({"state": "running", "cursor_id": 0})
            run._esp_enqueue_step()
        return True

    def action_pause(self):
        self._esp_check_rights()
        self.filtered(lambda r: r.state == "running").write({"state": "paused"})
        return True

    def action_resume(self):
        self._esp_check_rights()
        for run in self.filtered(lambda r: r.state in ("paused", "failed")):
            run.write({"state": "running", "last_error": False})
            run._esp_enqueue_step()
        return True

    # ------------------------------------------------------------- selection
    def _esp_partners_query(self, after_id=0, limit=None):
        """Partners the backend syncs, by id, after ``after_id``."""
        backend = self.backend_id
        domain = safe_eval(backend.partner_domain or "[]") + [
            ("id", ">", after_id),
            ("company_id", "in", (False, backend.company_id.id)),
            ("id", "not in", self.env["res.company"].sudo().search([]).partner_id.ids),
        ]
        return self.env["res.partner"].sudo().search(domain, order="id", limit=limit)

    def _esp_templates_query(self, after_id=0, limit=None):
        """Products of the backend's catalogue (its product domain), by id."""
        backend = self.backend_id
        domain = safe_eval(backend.product_domain or "[]") + [
            ("id", ">", after_id),
            ("company_id", "in", (False, backend.company_id.id)),
        ]
        return (
            self.env["product.template"].sudo().search(domain, order="id", limit=limit)
        )

    def _esp_orders_query(self, after_id=0, limit=None):
        domain = [
            ("company_id", "=", self.backend_id.company_id.id),
            ("state", "=", "sale"),
            ("id", ">", after_id),
        ]
        if self.orders_since:
            domain.append(("date_order", ">=", self.orders_since))
        return self.env["sale.order"].sudo().search(domain, order="id", limit=limit)

    # ------------------------------------------------------------------ jobs
    def _esp_enqueue_step(self, eta=None):
        self.ensure_one()
        self.with_delay(
            channel=const.CHANNEL_BULK,
            priority=const.PRIORITY_BULK + 10,
            identity_key=f"esp_backfill:{self.id}:step",
            eta=eta,
            description=_("Backfill step: %s", self.name),
        )._esp_step()

    def _esp_enqueue_poll(self):
        self.ensure_one()
        self.with_delay(
            channel=const.CHANNEL_BULK,
            priority=const.PRIORITY_BULK + 10,
            identity_key=f"esp_backfill:{self.id}:poll",
            eta=const.BACKFILL_POLL_SECONDS,
            description=_("Backfill progress: %s", self.name),
        )._esp_poll()

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
            if not self.started_at:
                for audience in self.backend_id._esp_audience_adapters():
                    audience.begin_backfill()
                self.started_at = fields.Datetime.now()
            return self._esp_send_chunk(adapter)
        except EspError as err:
            if err.retryable:
                raise self._esp_retry_job(err) from err
            self.write({"state": "failed", "last_error": str(err)})
            self.env["esp.sync.exception"]._esp_record(self.backend_id, self, err)
            return str(err)

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
        self._esp_enqueue_step()
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
            self._esp_enqueue_poll()
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
        self.last_error = str(error)[:250]
        return RetryableJobError(
            str(error), seconds=int(retry_delay(error, 0)) or 1, ignore_retry=True
        )

    def _esp_poll(self):
        """Job: refresh the ESP-side status of the batches still processing."""
        self.ensure_one()
        with guarded_job(self.backend_id, _("Backfill poll of %s", self.display_name)):
            return self._esp_poll_guarded()

    def _esp_poll_guarded(self):
        adapter = self.backend_id._esp_adapter()
        for batch in self.batch_ids.filtered(lambda b: b.state == "processing"):
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
            self._esp_enqueue_poll()
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

    @api.model
    def _cron_resume(self):
        """Restart the chain of runs interrupted by a crash or restart."""
        stale = fields.Datetime.now() - timedelta(minutes=15)
        for run in self.search([("state", "=", "running"), ("write_date", "<", stale)]):
            run._esp_enqueue_step()
