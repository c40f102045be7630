# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models, tools
from odoo.tools import SQL

from .. import const


class EspSyncHealth(models.Model):
    """Sync health per backend, stream and hour, read from the ledger.

    A SQL view: one row per (backend, stream, hour of the change). Counts add
    up over days and backends; latency percentiles are per hour, so grouped
    by day the graph shows the average p50 and the worst hour's p95.
    """

    _name = "esp.sync.health"
    _description = "ESP Sync Health"
    _auto = False
    _order = "period desc, backend_id, stream"
    _rec_name = "period"

    backend_id = fields.Many2one("esp.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    provider = fields.Selection(const.PROVIDERS, readonly=True)
    stream = fields.Selection(
        [(code, label) for code, label in const.STREAMS.items()], readonly=True
    )
    period = fields.Datetime("Hour", readonly=True)
    changes = fields.Integer(readonly=True, help="Changes recorded in Odoo.")
    delivered = fields.Integer(readonly=True, help="Acknowledged by the ESP.")
    failed = fields.Integer(readonly=True, help="Gave up: an exception.")
    skipped = fields.Integer(readonly=True, help="Nothing to send, or ignored.")
    backlog = fields.Integer(readonly=True, help="Still waiting to be delivered.")
    latency_p50 = fields.Float(
        "Latency p50 (s)",
        readonly=True,
        aggregator="avg",
        help="Median seconds from the change in Odoo to the ESP's answer.",
    )
    latency_p95 = fields.Float(
        "Latency p95 (s)",
        readonly=True,
        aggregator="max",
        help="95% of changes reached the ESP within this many seconds "
        "(grouped: the worst hour).",
    )
    error_rate = fields.Float(
        "Error rate (%)",
        readonly=True,
        aggregator="avg",
        help="Failed rows out of the rows that were tried (delivered + failed).",
    )

    def init(self):
        # The dashboard filters on a period (the view's hour), often of one
        # backend; the alerts read one backend's last hour.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS esp_sync_event_backend_occurred_idx
                ON esp_sync_event (backend_id, occurred_at);
            CREATE INDEX IF NOT EXISTS esp_sync_event_hour_backend_idx
                ON esp_sync_event (date_trunc('hour', occurred_at), backend_id);
            """
        )
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE VIEW %s AS (
                SELECT h.id, h.backend_id, b.company_id, b.provider, h.stream,
                       h.period, h.changes, h.delivered, h.failed, h.skipped,
                       h.backlog, h.latency_p50, h.latency_p95,
                       coalesce(
                           100.0 * h.failed / nullif(h.delivered + h.failed, 0), 0
                       ) AS error_rate
                  FROM (
                    SELECT min(e.id) AS id,
                           e.backend_id,
                           e.stream,
                           date_trunc('hour', e.occurred_at) AS period,
                           count(*) AS changes,
                           count(*) FILTER (WHERE e.state = 'sent') AS delivered,
                           count(*) FILTER (WHERE e.state = 'failed') AS failed,
                           count(*) FILTER (WHERE e.state = 'skipped') AS skipped,
                           count(*) FILTER (WHERE e.state = 'pending') AS backlog,
                           percentile_cont(0.5) WITHIN GROUP (
                               ORDER BY e.latency_seconds
                           ) FILTER (WHERE e.state = 'sent') AS latency_p50,
                           percentile_cont(0.95) WITHIN GROUP (
                               ORDER BY e.latency_seconds
                           ) FILTER (WHERE e.state = 'sent') AS latency_p95
                      FROM esp_sync_event e
                     GROUP BY e.backend_id, e.stream, date_trunc('hour', e.occurred_at)
                  ) h
                  JOIN esp_backend b ON b.id = h.backend_id
            )
            """,
                SQL.identifier(self._table),
            )
        )
