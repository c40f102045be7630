# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import uuid

from psycopg2.extras import execute_values

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .. import const


class EspSyncEvent(models.Model):
    """The ledger: what each backend must learn, and whether it did.

    Capture inserts rows (never updates them) inside the user's transaction;
    ``esp.sync.delivery`` reads the pending rows of one ordering group (a sale
    order, a partner) oldest first and stops at the first failure, so Placed
    always reaches the ESP before Fulfilled or Refunded. A row holds its own
    retry state (``attempts``, ``due_at``, ``retry_since``).
    """

    _name = "esp.sync.event"
    _description = "ESP Sync Event"
    _order = "occurred_at desc, id desc"
    _rec_name = "idempotency_key"

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    provider = fields.Selection(related="backend_id.provider")
    event_type = fields.Selection(const.EVENT_TYPES, required=True, index=True)
    stream = fields.Selection(
        [(code, label) for code, label in const.STREAMS.items()],
        compute="_compute_stream",
        store=True,
    )
    res_model = fields.Char("Model", required=True, index=True)
    res_id = fields.Many2oneReference("Record id", model_field="res_model")
    record_name = fields.Char()
    group_ref = fields.Char(
        "Ordering group",
        required=True,
        index=True,
        help="Events of one group are delivered one after the other, oldest first.",
    )
    sequence = fields.Integer(help="Tie-break inside a group (Placed first).")
    idempotency_key = fields.Char(required=True, readonly=True)
    occurred_at = fields.Datetime(
        required=True, default=fields.Datetime.now, index=True
    )
    mode = fields.Selection(const.SYNC_MODES, required=True, default="realtime")
    priority = fields.Integer(default=const.PRIORITY_BULK)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    due_at = fields.Datetime(
        readonly=True,
        help="When delivery may be tried next; empty while held (a scheduled "
        "stream waiting for its batch, or a group waiting behind a failure).",
    )
    old_email = fields.Char(
        readonly=True, help="Email change: the address the ESP knows them by."
    )
    sent_at = fields.Datetime(readonly=True)
    attempts = fields.Integer(
        readonly=True, help="Failed tries of this row (rate limits do not count)."
    )
    backoff_level = fields.Integer(
        readonly=True,
        help="Failures without a wait given by the ESP: the exponent of the next "
        "back-off.",
    )
    retry_since = fields.Datetime(
        readonly=True, help="First retryable failure; the retry budget counts from it."
    )
    payload_hash = fields.Char(readonly=True)
    note = fields.Char(readonly=True, help="Why it was skipped or what failed.")
    exception_id = fields.Many2one("esp.sync.exception", readonly=True, index=True)
    latency_seconds = fields.Float(
        "Latency (s)",
        readonly=True,
        aggregator="avg",
        help="Seconds from the change in Odoo to its delivery.",
    )

    _sql_constraints = [
        (
            "idempotency_key_unique",
            "unique(backend_id, idempotency_key)",
            "An event with this idempotency key already exists for this backend.",
        )
    ]

    def init(self):
        # Capture looks up a record's order events; delivery reads due rows.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS esp_sync_event_record_idx
                ON esp_sync_event (res_id, res_model, backend_id, event_type);
            CREATE INDEX IF NOT EXISTS esp_sync_event_due_idx
                ON esp_sync_event (backend_id, due_at, priority)
             WHERE state = 'pending';
            CREATE INDEX IF NOT EXISTS esp_sync_event_open_state_idx
                ON esp_sync_event (backend_id, state) INCLUDE (occurred_at)
             WHERE state IN ('pending', 'failed');
            CREATE INDEX IF NOT EXISTS esp_sync_event_group_open_idx
                ON esp_sync_event (backend_id, group_ref, id)
             WHERE state IN ('pending', 'failed');
            """
        )

    @api.depends("event_type")
    def _compute_stream(self):
        for event in self:
            event.stream = const.EVENT_STREAM.get(event.event_type)

    @api.depends("event_type", "record_name")
    def _compute_display_name(self):
        labels = dict(const.EVENT_TYPES)
        for event in self:
            event.display_name = f"{labels[event.event_type]}: {event.record_name}"

    # ------------------------------------------------------------ recording
    @api.model
    def _esp_record_many(self, entries):
        """Insert ledger rows for ``entries`` in one statement; wake delivery.

        ``entries``: ``(backend, event_type, record, group, extra)`` tuples,
        ``extra`` a dict of further column values (or None). Coalesced types
        are always inserted (delivery merges them, so capture never updates a
        row a job may be reading); an order transition is recorded once per
        occurrence with a deterministic key. Runs as superuser: capture must
        not depend on the acting user's ESP rights.
        """
        if not entries:
            return 0
        ledger = self.sudo()
        previous = ledger._esp_previous_transitions(entries)
        now = fields.Datetime.now()
        ids = {}
        for _backend, _type, record, _group, _extra in entries:
            ids.setdefault(record._name, set()).add(record.id)
        labels = {
            (model, record.id): record.display_name
            for model, record_ids in ids.items()
            for record in self.env[model].sudo().browse(sorted(record_ids))
        }
        rows, wake, seen = [], set(), set()
        for backend, event_type, record, group, extra in entries:
            key = ledger._esp_key(backend, event_type, record, previous)
            if key is None or (backend.id, key) in seen:
                continue
            seen.add((backend.id, key))
            spec = const.EVENT_TABLE[event_type]
            config = backend._esp_capture_config(backend.id)
            mode = config.mode(spec.stream)
            group_ref = f"{group._name},{group.id}"
            extra = extra or {}
            # A type's lane, or urgent for one row (a variant back in stock).
            urgent = spec.urgent or extra.get("urgent", False)
            if event_type == "consent" and not extra.get("after_email_change"):
                # Consent travels on its own: a failed profile update must
                # never hold back an opt-out. Right after an email change it
                # waits for the move, or it would create a second person.
                group_ref += ":consent"
            elif event_type == "erasure":
                group_ref += ":erasure"  # never held behind the person's rows
            elif event_type == "sms_consent":
                group_ref += ":sms"  # a bad mobile number never holds email
            rows.append(
                (
                    backend.id,
                    config.company_id,
                    event_type,
                    spec.stream,
                    record._name,
                    record.id,
                    labels.get((record._name, record.id), ""),
                    group_ref,
                    spec.sequence,
                    key,
                    extra.get("occurred_at") or now,
                    mode,
                    const.PRIORITY_URGENT if urgent else const.PRIORITY_BULK,
                    now if mode == "realtime" else None,
                    extra.get("old_email"),
                    self.env.uid,
                    now,
                )
            )
            if mode == "realtime":
                wake.add((backend.id, "urgent" if urgent else "bulk"))
        if not rows:
            return 0
        self.env.flush_all()
        execute_values(
            self.env.cr._obj,
            """
            INSERT INTO esp_sync_event (
                backend_id, company_id, event_type, stream, res_model, res_id,
                record_name, group_ref, sequence, idempotency_key, occurred_at,
                mode, priority, due_at, old_email, create_uid, create_date,
                write_uid, write_date, state, attempts, backoff_level)
            SELECT v.backend_id, v.company_id, v.event_type, v.stream,
                   v.res_model, v.res_id, v.record_name, v.group_ref,
                   v.sequence, v.idempotency_key, v.occurred_at, v.mode,
                   v.priority, v.due_at, v.old_email, v.uid, v.now, v.uid,
                   v.now, 'pending', 0, 0
              FROM (VALUES %s) AS v(backend_id, company_id, event_type, stream,
                   res_model, res_id, record_name, group_ref, sequence,
                   idempotency_key, occurred_at, mode, priority, due_at,
                   old_email, uid, now)
            ON CONFLICT (backend_id, idempotency_key) DO NOTHING
            """,
            rows,
            template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::timestamp, %s, "
            "%s, %s::timestamp, %s, %s, %s::timestamp)",
        )
        self.env["esp.sync.delivery"]._esp_wake(wake)
        return len(rows)

    @api.model
    def _esp_previous_transitions(self, entries):
        """Order transitions already recorded for the records of ``entries``.

        One indexed query for the whole batch: ``{(backend, model, id, type):
        (count, last_id)}``.
        """
        wanted = {
            (backend.id, record._name, record.id)
            for backend, event_type, record, _g, _e in entries
            if event_type not in const.COALESCED_EVENTS
        }
        if not wanted:
            return {}
        self.env.cr.execute(
            SQL(
                """
                SELECT e.backend_id, e.res_model, e.res_id, e.event_type,
                       count(*), max(e.id)
                  FROM esp_sync_event e
                  JOIN (VALUES %s) AS w(backend_id, res_model, res_id)
                    ON e.res_id = w.res_id AND e.res_model = w.res_model
                   AND e.backend_id = w.backend_id
                 GROUP BY 1, 2, 3, 4
                """,
                SQL(", ").join(SQL("(%s, %s, %s)", *row) for row in wanted),
            )
        )
        return {
            (backend_id, model, res_id, event_type): (count, last_id)
            for backend_id, model, res_id, event_type, count, last_id in (
                self.env.cr.fetchall()
            )
        }

    @api.model
    def _esp_key(self, backend, event_type, record, previous):
        """The idempotency key of a new row, or None when it is already known.

        Order transitions happen once (a picking is done once), except Placed
        and Cancelled, which alternate when an order is cancelled and
        confirmed again; the n-th occurrence gets the suffix ``:n``.
        """
        base = f"{record._name}:{record.id}:{event_type}"
        if event_type in const.COALESCED_EVENTS or event_type == "email_change":
            return f"{base}:{uuid.uuid4().hex[:12]}"
        count, last_id = previous.get(
            (backend.id, record._name, record.id, event_type), (0, 0)
        )
        if count:
            other = const.REOCCURRING_EVENTS.get(event_type)
            _count, other_last = previous.get(
                (backend.id, record._name, record.id, other), (0, 0)
            )
            if not other or other_last < last_id:
                return None
        # Keep the batch consistent when one capture sees the record twice.
        previous[(backend.id, record._name, record.id, event_type)] = (
            count + 1,
            float("inf"),
        )
        return f"{base}:{count + 1}" if count else base

    @api.model
    def _esp_group_rows(self, backend, group_ref, states=("pending", "failed")):
        """The rows of one ordering group in ``states``, oldest first."""
        return self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("group_ref", "=", group_ref),
                ("state", "in", states),
            ],
            order="id",
        )

    # ------------------------------------------------------------- actions
    def _esp_check_manager(self):
        """Managers may act on the ledger they can see, as superuser."""
        if self.env.su:
            return
        if not self.env.user.has_group("esp_sync.group_esp_sync_manager"):
            raise AccessError(_("Only ESP Sync managers can retry deliveries."))
        self.check_access("read")

    def action_retry(self):
        """Send failed or skipped events again (after the cause was fixed)."""
        self._esp_check_manager()
        events = self.sudo()
        events.write(
            {
                "state": "pending",
                "exception_id": False,
                "note": False,
                "retry_since": False,
                "due_at": fields.Datetime.now(),
            }
        )
        self.env["esp.sync.delivery"]._esp_release_groups(events)
        return True

    @api.model
    def _cron_vacuum(self, days=90):
        """Forget delivered profile, consent and catalogue rows after ``days``.

        Order events stay: their keys are what the ESPs de-duplicate on and
        what capture checks before recording a transition again.
        """
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM esp_sync_event
                 WHERE event_type = ANY(%s) AND state IN ('sent', 'skipped')
                   AND occurred_at < %s
                """,
                [*const.COALESCED_EVENTS, "email_change"],
                limit,
            )
        )
        return self.env.cr.rowcount
