# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class EspBackfillBatch(models.Model):
    """One bulk call of a backfill and what the ESP made of it."""

    _name = "esp.backfill.batch"
    _description = "ESP Backfill Batch"
    _order = "id"

    backfill_id = fields.Many2one("esp.backfill", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backfill_id.company_id", store=True)
    kind = fields.Selection([("profiles", "Profiles"), ("orders", "Orders")])
    remote_job_id = fields.Char("ESP job id", readonly=True)
    state = fields.Selection(
        [("processing", "Processing"), ("complete", "Complete"), ("failed", "Failed")],
        default="processing",
        required=True,
    )
    total = fields.Integer(readonly=True)
    completed = fields.Integer(readonly=True)
    failed = fields.Integer(readonly=True)
    errors = fields.Text(readonly=True)
    first_record_id = fields.Integer(readonly=True)
    last_record_id = fields.Integer(readonly=True)

    def _esp_update(self, job):
        """Copy a refreshed ``providers.base.BulkJob`` onto the batch."""
        self.ensure_one()
        state = "processing"
        if job.done:
            state = "failed" if job.status == "failed" else "complete"
        self.write(
            {
                "state": state,
                "completed": job.completed,
                "failed": job.failed or len(job.errors),
                "errors": "\n".join(f"{key}: {msg}" for key, msg in job.errors)
                or False,
            }
        )
