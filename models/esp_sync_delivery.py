# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one home of delivery: wake-up, dispatch, one group, outcome, watchdog.

Read top to bottom:

1. ``_esp_wake`` — capture asks for delivery; the dispatcher job of each
   (backend, channel) is created *after* the user's transaction commits, so
   it always sees the rows it was woken for (a lost wake-up is impossible;
   a crash between commit and wake-up is caught by the watchdog).
2. ``_esp_dispatch`` — the job: takes due ordering groups, most urgent
   first, each delivered in a transaction of its own.
3. ``_esp_deliver_group`` — lock the group, read its open rows oldest first,
   deliver them in order, stop at the first that cannot go.
4. ``_esp_deliver_unit`` — build plain values, route, send through the
   adapter, record the outcome (ledger, binding, exception).
5. ``_esp_retry_later`` / ``_esp_fail`` — the one retry policy
   (``providers.retry``) and the time budget, then a recorded exception.
6. ``_cron_watchdog`` — rows that are due with no live job get one.
"""

import functools
import logging
import math
import time
import traceback
import zlib
from datetime import timedelta

import psycopg2
import psycopg2.errors
from psycopg2 import errorcodes

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError
from odoo.modules import module as odoo_module
from odoo.tools import SQL

from .. import const
from ..providers import EspError
from ..providers import events as ev
from ..providers.retry import counts_toward_giving_up, retry_delay
from .esp_sync_values import EspSkip, payload_hash

_logger = logging.getLogger(__name__)

# Database conflicts a group retries soon, without counting an attempt.
CONFLICT_CODES = {
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.LOCK_NOT_AVAILABLE,
    errorcodes.UNIQUE_VIOLATION,
}
CONFLICT_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.UniqueViolation,
)


def is_conflict(error):
    """A concurrency error the database asks us to retry."""
    return isinstance(error, CONFLICT_ERRORS) or (
        getattr(error, "pgcode", None) in CONFLICT_CODES
    )


ADAPTER_METHOD = {
    ev.Profile: "upsert_profile",
    ev.Consent: "update_consent",
    ev.EmailChange: "change_email",
    ev.OrderEvent: "send_order_event",
    ev.CatalogItem: "upsert_catalog_item",
    list: "update_inventory",
}


# Rows due within this margin go now: job etas are stored to the second.
DUE_MARGIN = timedelta(seconds=1)


def _due_by():
    return fields.Datetime.now() + DUE_MARGIN


def _testing():
    """Inside Odoo's test runner every job shares the test's transaction."""
    return bool(getattr(odoo_module, "current_test", False))


def _identity(backend_id, channel, later=False):
    return f"esp_sync:dispatch:{backend_id}:{channel}" + (":later" if later else "")


def _wake_after_commit(registry, pairs):
    """Postcommit: make sure a dispatcher runs for each (backend, channel)."""
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["esp.sync.delivery"]._esp_enqueue_dispatchers(pairs)
    except Exception:  # the user's work is committed; the watchdog catches up
        _logger.exception("esp_sync: wake-up failed; the watchdog will catch up")


class GroupOutcome:
    """What delivering one group tells the dispatcher."""

    __slots__ = ("delivered", "busy", "pause")

    def __init__(self, delivered=0, busy=False, pause=0.0):
        self.delivered = delivered
        self.busy = busy
        self.pause = pause


class EspSyncDelivery(models.AbstractModel):
    _name = "esp.sync.delivery"
    _description = "ESP Sync Delivery Engine"

    @api.model
    def _esp_check_admin_or_manager(self):
        """Resending is for ESP Sync managers: checked on the server."""
        if not self.env.su and not self.env.user.has_group(
            "esp_sync.group_esp_sync_manager"
        ):
            raise AccessError(_("Only ESP Sync managers can resend to the ESPs."))

    # -------------------------------------------------------------- 1. wake
    @api.model
    def _esp_wake(self, pairs):
        """Ask for delivery of (backend id, channel) pairs after commit."""
        pairs = set(pairs)
        if not pairs:
            return
        if _testing():
            self._esp_enqueue_dispatchers(pairs)
            return
        data = self.env.cr.postcommit.data
        if "esp_sync.wake" not in data:
            data["esp_sync.wake"] = set()
            self.env.cr.postcommit.add(
                functools.partial(
                    _wake_after_commit, self.env.registry, data["esp_sync.wake"]
                )
            )
        data["esp_sync.wake"] |= pairs

    @api.model
    def _esp_enqueue_dispatchers(self, pairs, eta=None):
        """One dispatcher job per pair, unless one that will start later exists.

        A pending or enqueued job has not read the ledger yet, so it will see
        every committed row: queue_job's identity key skips the duplicate.
        """
        backends = self.env["esp.backend"].sudo()
        for backend_id, channel in sorted(pairs):
            backend = backends.browse(backend_id)
            if eta:
                if self._esp_follow_up_exists(backend_id, channel, eta):
                    continue
                identity = _identity(backend_id, channel, later=True)
            else:
                identity = _identity(backend_id, channel)
            backend.with_delay(
                channel=const.CHANNELS[channel],
                priority=const.PRIORITY_URGENT
                if channel == "urgent"
                else const.PRIORITY_BULK,
                identity_key=identity,
                eta=eta,
                max_retries=0,
                description=_(
                    "ESP delivery: %(backend)s (%(channel)s)",
                    backend=backend.name,
                    channel=channel,
                ),
            )._esp_dispatch(channel)

    @api.model
    def _esp_follow_up_exists(self, backend_id, channel, eta):
        """True when a job will run by ``eta``; a later follow-up is moved
        forward instead of adding another (one follow-up per pair)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT id, eta, identity_key FROM queue_job
                 WHERE state IN ('pending', 'enqueued') AND identity_key IN %s
                 ORDER BY eta NULLS FIRST
                """,
                (
                    _identity(backend_id, channel),
                    _identity(backend_id, channel, later=True),
                ),
            )
        )
        jobs = self.env.cr.fetchall()
        if any(job_eta is None or job_eta <= eta for _id, job_eta, _key in jobs):
            return True
        later = [job_id for job_id, _eta, key in jobs if key.endswith(":later")]
        if later:
            self.env.cr.execute(
                "UPDATE queue_job SET eta = %s WHERE id = %s AND state = 'pending'",
                (eta, later[0]),
            )
            return bool(self.env.cr.rowcount)
        return False

    @api.model
    def _esp_wake_pending(self, backends):
        """Wake the channels of ``backends`` that have rows due now."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT backend_id,
                       CASE WHEN priority <= %s THEN 'urgent' ELSE 'bulk' END
                  FROM esp_sync_event
                 WHERE backend_id = ANY(%s) AND state = 'pending' AND due_at <= %s
                """,
                const.PRIORITY_URGENT,
                backends.ids,
                fields.Datetime.now(),
            )
        )
        self._esp_wake(set(self.env.cr.fetchall()))

    @api.model
    def _esp_release_groups(self, events):
        """Rows held behind ``events`` may go again (retried or ignored)."""
        events = events.sudo()
        self.env.flush_all()
        for backend in events.backend_id:
            groups = list(
                set(
                    events.filtered(lambda e, b=backend: e.backend_id == b).mapped(
                        "group_ref"
                    )
                )
            )
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE esp_sync_event SET due_at = %s
                     WHERE backend_id = %s AND group_ref = ANY(%s)
                       AND state = 'pending'
                       AND (due_at IS NULL OR due_at > %s) AND mode = 'realtime'
                    """,
                    fields.Datetime.now(),
                    backend.id,
                    groups,
                    fields.Datetime.now(),
                )
            )
        events.invalidate_model(["due_at"])
        self._esp_wake(
            {
                (backend.id, channel)
                for backend in events.backend_id
                for channel in const.CHANNELS
            }
        )

    # ---------------------------------------------------------- 2. dispatch
    @api.model
    def _esp_dispatch(self, backend, channel):
        """Job body: deliver due groups of ``backend`` for ``channel``.

        Each group runs in a transaction of its own (a savepoint in tests);
        the job hands over to a fresh one after ``DISPATCH_SECONDS``.
        """
        if not backend.active:
            # Archived (or a neutralized copy): keep everything pending.
            return _("Backend archived: nothing sent.")
        deadline = time.monotonic() + const.DISPATCH_SECONDS
        delivered, busy, skip = 0, False, set()
        paused = self._esp_paused_for(backend)
        if paused:
            self._esp_follow_up(backend, channel, paused)
            return _("Paused %(s)ss for the ESP's rate limit.", s=int(paused))
        while time.monotonic() < deadline:
            groups = self._esp_due_groups(backend, channel, skip)
            if not groups:
                # A retry due within seconds is waited for here, not by a
                # new job (cheaper, and sooner).
                wait = self._esp_seconds_to_next_due(backend, channel)
                if (
                    _testing()
                    or wait is None
                    or wait > const.SHORT_PAUSE_SECONDS
                    or time.monotonic() + wait >= deadline
                ):
                    break
                time.sleep(max(wait, 0.2))
                continue
            for group_ref in groups:
                outcome = self._esp_run_group(backend, group_ref)
                delivered += outcome.delivered
                if outcome.pause:
                    # The ESP's window is used up: every group of every
                    # channel waits for it; a short wait is slept here.
                    self._esp_pause(backend, outcome.pause)
                    if (
                        not _testing()
                        and outcome.pause <= const.SHORT_PAUSE_SECONDS
                        and time.monotonic() + outcome.pause < deadline
                    ):
                        time.sleep(outcome.pause)
                        skip.clear()
                        break
                    self._esp_follow_up(backend, channel, outcome.pause)
                    return _(
                        "%(count)s event(s) delivered; pausing %(s)ss for the "
                        "ESP's rate limit.",
                        count=delivered,
                        s=int(outcome.pause),
                    )
                if outcome.busy:
                    busy = True
                    skip.add(group_ref)
                if time.monotonic() >= deadline:
                    break
        else:
            self._esp_follow_up(backend, channel, 0)
            return _("%(count)s event(s) delivered; continuing.", count=delivered)
        next_due = self._esp_next_due(backend, channel)
        if busy:
            self._esp_follow_up(backend, channel, const.BUSY_RETRY_SECONDS)
        elif next_due:
            seconds = (next_due - fields.Datetime.now()).total_seconds()
            self._esp_follow_up(backend, channel, max(seconds, 0.5))
        return _("%(count)s event(s) delivered.", count=delivered)

    @api.model
    def _esp_paused_for(self, backend):
        """Seconds left before the backend's rate-limit window reopens."""
        with self._esp_cursor() as env:
            until = env["esp.backend"].browse(backend.id).paused_until
        if not until:
            return 0
        return max((until - fields.Datetime.now()).total_seconds(), 0)

    @api.model
    def _esp_pause(self, backend, seconds):
        """Pause the backend for every dispatcher (a transaction of its own)."""
        until = fields.Datetime.now() + timedelta(seconds=seconds)
        for _attempt in range(3):
            try:
                with self._esp_cursor() as env:
                    env.cr.execute(
                        "UPDATE esp_backend SET paused_until = %s WHERE id = %s"
                        " AND (paused_until IS NULL OR paused_until < %s)",
                        (until, backend.id, until),
                    )
                    env["esp.backend"].invalidate_model(["paused_until"])
                return
            except psycopg2.Error as err:
                if not is_conflict(err):
                    raise

    @api.model
    def _esp_channel_domain(self, channel):
        if channel == "urgent":
            return SQL("AND priority <= %s", const.PRIORITY_URGENT)
        return SQL("")

    @api.model
    def _esp_due_groups(self, backend, channel, skip):
        """Ordering groups with a row due now, most urgent and oldest first."""
        with self._esp_cursor() as env:
            env.flush_all()
            env.cr.execute(
                SQL(
                    """
                    SELECT group_ref FROM esp_sync_event
                     WHERE backend_id = %s AND state = 'pending'
                       AND due_at <= %s AND NOT (group_ref = ANY(%s)) %s
                     GROUP BY group_ref
                     ORDER BY min(priority), min(id)
                     LIMIT %s
                    """,
                    backend.id,
                    _due_by(),
                    list(skip),
                    self._esp_channel_domain(channel),
                    const.DISPATCH_BATCH,
                )
            )
            return [row[0] for row in env.cr.fetchall()]

    @api.model
    def _esp_seconds_to_next_due(self, backend, channel):
        next_due = self._esp_next_due(backend, channel)
        if not next_due:
            return None
        return (next_due - _due_by()).total_seconds()

    @api.model
    def _esp_next_due(self, backend, channel):
        with self._esp_cursor() as env:
            env.flush_all()
            env.cr.execute(
                SQL(
                    """
                    SELECT min(due_at) FROM esp_sync_event
                     WHERE backend_id = %s AND state = 'pending'
                       AND due_at > %s %s
                    """,
                    backend.id,
                    _due_by(),
                    self._esp_channel_domain(channel),
                )
            )
            return env.cr.fetchone()[0]

    @api.model
    def _esp_follow_up(self, backend, channel, seconds):
        eta = None
        if seconds:
            # Whole seconds, rounded up: queue_job stores etas to the second.
            eta = fields.Datetime.now().replace(microsecond=0) + timedelta(
                seconds=math.ceil(seconds)
            )
        if _testing() or not eta:
            self._esp_enqueue_dispatchers({(backend.id, channel)}, eta=eta)
            return
        with self._esp_cursor() as env:
            env["esp.sync.delivery"]._esp_enqueue_dispatchers(
                {(backend.id, channel)}, eta=eta
            )

    def _esp_cursor(self):
        """A transaction of its own (the test's cursor inside tests)."""
        if _testing():
            return _SameCursor(self.env)
        return _NewCursor(self.env)

    @api.model
    def _esp_run_group(self, backend, group_ref):
        """Deliver one group in its own transaction; never raise.

        A database conflict retries the group soon at no cost; any other
        error (a bug included) becomes an ``unexpected`` exception for IT and
        the rows go back to a retryable state.
        """
        try:
            with self._esp_cursor() as env:
                return env["esp.sync.delivery"]._esp_deliver_group(
                    backend.with_env(env), group_ref
                )
        except psycopg2.Error as err:
            if is_conflict(err):
                _logger.info(
                    "esp_sync: %s conflicted (%s), retrying", group_ref, err.pgcode
                )
                return GroupOutcome(busy=True)
            error, trace = err, traceback.format_exc()
        except Exception as err:  # any bug must end as a recorded exception
            error, trace = err, traceback.format_exc()
        _logger.error(
            "esp_sync: delivery of %s failed unexpectedly\n%s", group_ref, trace
        )
        with self._esp_cursor() as env:
            env["esp.sync.delivery"]._esp_record_unexpected(
                backend.with_env(env), group_ref, error, trace
            )
        return GroupOutcome()

    # ------------------------------------------------------------ 3. group
    @api.model
    def _esp_deliver_group(self, backend, group_ref):
        """Deliver the open rows of ``group_ref`` oldest first.

        Stops at the first row that cannot go now (failed, or waiting for a
        retry): the rows after it are held with it, so the ESP never sees
        Fulfilled before Placed.
        """
        paused = (
            backend.paused_until
            and (backend.paused_until - fields.Datetime.now()).total_seconds()
        )
        if paused and paused > 0.05:
            return GroupOutcome(pause=paused)
        if not self._esp_lock_group(backend, group_ref):
            return GroupOutcome(busy=True)
        rows = (
            self.env["esp.sync.event"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("group_ref", "=", group_ref),
                    ("state", "in", ("pending", "failed")),
                ],
                order="id",
            )
        )
        outcome = GroupOutcome()
        if not rows or rows[0].state == "failed":
            self._esp_hold(rows.filtered(lambda r: r.state == "pending"), rows[:1])
            return outcome
        try:
            adapter = backend._esp_adapter()
        except EspError as err:
            self._esp_fail(rows[:1], err)
            self._esp_hold(rows[1:], rows[:1])
            return outcome
        now = _due_by()
        done = self.env["esp.sync.event"]
        for row in rows:
            if row in done:
                continue
            if row.state != "pending" or not row.due_at or row.due_at > now:
                self._esp_hold(rows - done - row, row)
                break
            unit = self._esp_unit(rows - done, row)
            done |= unit
            try:
                result = self._esp_deliver_unit(backend, adapter, unit)
            except EspError as err:
                if err.retryable:
                    self._esp_retry_later(unit, err)
                else:
                    self._esp_fail(unit, err)
                # A 429 holds this group as long as the ESP said; the others
                # go on (its limits are per endpoint). A used-up window, read
                # from the rate-limit headers below, pauses the backend.
                self._esp_hold(rows - done, unit[:1])
                break
            if result is not None:
                outcome.delivered += 1
                pause = _rate_limit_pause(result)
                if pause and rows - done:
                    outcome.pause = pause
                    break
        return outcome

    @api.model
    def _esp_lock_group(self, backend, group_ref):
        """One transaction at a time per ordering group, whatever its channel."""
        key = zlib.crc32(group_ref.encode()) - 2**31
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", (backend.id, key)
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _esp_unit(self, open_rows, row):
        """``row`` and the rows that merge with it (same record and type)."""
        if row.event_type not in const.COALESCED_EVENTS:
            return row
        return open_rows.filtered(
            lambda r: r.state == "pending"
            and r.event_type == row.event_type
            and r.res_model == row.res_model
            and r.res_id == row.res_id
        )

    @api.model
    def _esp_hold(self, rows, blocker):
        """Rows behind ``blocker`` wait as long as it does (None: a failure)."""
        rows = rows.filtered(lambda r: r.state == "pending")
        if not rows:
            return
        if blocker.state == "failed":
            rows.write(
                {
                    "due_at": False,
                    "note": _(
                        "Waiting for %(event)s, which failed.",
                        event=blocker.display_name,
                    ),
                }
            )
        else:
            rows.write({"due_at": blocker.due_at})

    # ------------------------------------------------------------- 4. unit
    @api.model
    def _esp_deliver_unit(self, backend, adapter, unit):
        """Build, route, send one unit and record it; raise EspError on failure.

        Returns the adapter's DeliveryResult, or None when nothing was sent.
        """
        row = unit[0]
        record = self.env[row.res_model].sudo().browse(row.res_id).exists()
        if not record:
            self._esp_mark_done(unit, _("The record was deleted before delivery."))
            return None
        try:
            values = self.env["esp.sync.values"]._esp_build(row, record)
        except EspSkip as skip:
            self._esp_mark_done(unit, skip.reason)
            if skip.capture:
                self._esp_capture_instead(backend, *skip.capture)
            return None
        # Audience routing (Mailchimp): the adapter of the partner's audience.
        adapter, skipped = self.env["esp.audience.rule"]._esp_routed_adapter(
            backend, adapter, record
        )
        if skipped:
            self._esp_mark_done(unit, skipped)
            return None
        digest = payload_hash(
            [values, adapter.settings.mailchimp_list_id]
            if backend.audience_rule_ids
            else values
        )
        binding = self.env["esp.sync.binding"]._esp_get(backend, record, row.stream)
        if row.event_type in ("profile", "catalog") and (
            binding.last_payload_hash == digest and binding.state == "synced"
        ):
            self._esp_mark_done(unit, _("Unchanged since the last delivery."))
            return None
        result = getattr(adapter, ADAPTER_METHOD[type(values)])(values)
        _remember_endpoint(backend, adapter)
        now = fields.Datetime.now()
        for event in unit:
            event.write(
                {
                    "state": "skipped" if result.skipped_reason else "sent",
                    "note": result.skipped_reason or False,
                    "sent_at": now,
                    "payload_hash": digest,
                    "attempts": event.attempts + 1,
                    "retry_since": False,
                    "latency_seconds": (now - event.occurred_at).total_seconds(),
                }
            )
        binding._esp_mark_synced(row, result, digest, values)
        self.env["esp.sync.exception"]._esp_resolve(backend, record, row.stream)
        self._esp_after_success(backend, row, record, values)
        return result

    @api.model
    def _esp_capture_instead(self, backend, records, event_type):
        """Record ``event_type`` unless a row of it already waits (merged)."""
        waiting = (
            self.env["esp.sync.event"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("event_type", "=", event_type),
                    ("state", "=", "pending"),
                ],
                limit=1,
            )
        )
        if not waiting:
            records._esp_capture(event_type, backend)

    @api.model
    def _esp_after_success(self, backend, row, record, values):
        """Whoever a delivery may have created at the ESP carries their consent.

        A customer blacklisted before they entered the scope, then buying,
        must be suppressed at the ESP, not left as a fresh contact.
        """
        partner = record._esp_partner() if hasattr(record, "_esp_partner") else None
        if row.event_type not in ("profile", "order_placed", "email_change"):
            return
        if not partner or partner._esp_consent_status() != "unsubscribed":
            return  # opt-ins travel with their own consent capture
        known = (
            self.env["esp.sync.event"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("event_type", "=", "consent"),
                ],
                limit=1,
            )
        )
        if not known:
            partner._esp_capture("consent", backend)

    @api.model
    def _esp_mark_done(self, rows, reason):
        rows.write(
            {
                "state": "skipped",
                "note": reason,
                "sent_at": fields.Datetime.now(),
                "retry_since": False,
            }
        )

    # ------------------------------------------------------ 5. retry / fail
    @api.model
    def _esp_retry_later(self, rows, error):
        """Retry after the one policy's delay, or give up past the budget."""
        now = fields.Datetime.now()
        counted = counts_toward_giving_up(error)
        head = rows[0]
        since = head.retry_since or now
        budget = timedelta(hours=head.backend_id.retry_budget_hours or 0)
        if counted and now - since >= budget:
            self._esp_fail(
                rows,
                EspError(
                    _(
                        "Gave up after %(count)s attempts over %(hours)s hours: "
                        "%(error)s",
                        count=head.attempts + 1,
                        hours=round((now - since).total_seconds() / 3600, 1),
                        error=error.message,
                    ),
                    category=error.category,
                    status=error.status,
                ),
            )
            return
        seconds = retry_delay(error, head.attempts if counted else 0)
        rows.write(
            {
                "attempts": head.attempts + (1 if counted else 0),
                "retry_since": since if counted else head.retry_since,
                "due_at": now + timedelta(seconds=seconds),
                "note": _("Retrying in %(s)ss: %(e)s", s=int(seconds), e=error)[:250],
            }
        )

    @api.model
    def _esp_fail(self, rows, error, trace=None):
        """Record a delivery that cannot succeed until someone fixes the cause."""
        head = rows[0]
        record = self.env[head.res_model].sudo().browse(head.res_id).exists()
        exception = self.env["esp.sync.exception"]._esp_record(
            head.backend_id,
            record or head.backend_id,
            error,
            stream=head.stream,
            trace=trace,
        )
        rows.write(
            {
                "state": "failed",
                "note": str(error)[:250],
                "exception_id": exception.id,
                "attempts": head.attempts + 1,
            }
        )
        if record:
            self.env["esp.sync.binding"]._esp_get(
                head.backend_id, record, head.stream
            )._esp_mark_failed(str(error))
        return exception

    @api.model
    def _esp_record_unexpected(self, backend, group_ref, error, trace):
        """A bug or an unknown error: an exception for IT, rows retry later."""
        rows = (
            self.env["esp.sync.event"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("group_ref", "=", group_ref),
                    ("state", "=", "pending"),
                ],
                order="id",
                limit=1,
            )
        )
        if not rows:
            return
        unexpected = EspError(
            _("Unexpected error: %(error)s", error=f"{type(error).__name__}: {error}"),
            category="transient",
            code="unexpected",
        )
        record = self.env[rows.res_model].sudo().browse(rows.res_id).exists()
        self.env["esp.sync.exception"]._esp_record(
            backend,
            record or backend,
            unexpected,
            stream=rows.stream,
            trace=trace,
            category="unexpected",
        )
        self._esp_retry_later(rows, unexpected)
        if rows.state == "pending":
            self._esp_hold(
                self.env["esp.sync.event"]
                .sudo()
                .search(
                    [
                        ("backend_id", "=", backend.id),
                        ("group_ref", "=", group_ref),
                        ("state", "=", "pending"),
                        ("id", ">", rows.id),
                    ]
                ),
                rows,
            )

    # ---------------------------------------------------------- 6. watchdog
    @api.model
    def _cron_watchdog(self):
        """Find ledger rows nobody will deliver and wake a dispatcher for them.

        Due rows older than a minute whose (backend, channel) has no live
        job (failed, done or missing), and realtime rows held behind a
        failure that no longer exists.
        """
        now = fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE esp_sync_event e SET due_at = %s
                 WHERE e.state = 'pending' AND e.due_at IS NULL
                   AND e.mode = 'realtime'
                   AND NOT EXISTS (
                       SELECT 1 FROM esp_sync_event f
                        WHERE f.backend_id = e.backend_id
                          AND f.group_ref = e.group_ref AND f.state = 'failed')
                """,
                now,
            )
        )
        released = self.env.cr.rowcount
        self.env["esp.sync.event"].invalidate_model(["due_at"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT e.backend_id,
                       CASE WHEN e.priority <= %s THEN 'urgent' ELSE 'bulk' END
                  FROM esp_sync_event e
                  JOIN esp_backend b ON b.id = e.backend_id AND b.active
                 WHERE e.state = 'pending' AND e.due_at <= %s
                """,
                const.PRIORITY_URGENT,
                now - timedelta(seconds=const.WATCHDOG_GRACE_SECONDS),
            )
        )
        stale = set(self.env.cr.fetchall())
        orphans = {pair for pair in stale if not self._esp_has_live_job(*pair, now)}
        if orphans:
            _logger.info(
                "esp_sync watchdog: waking %s dispatcher(s) with no live job",
                len(orphans),
            )
            self._esp_enqueue_dispatchers(orphans)
        return {"released": released, "woken": len(orphans)}

    @api.model
    def _esp_has_live_job(self, backend_id, channel, now):
        self.env.cr.execute(
            SQL(
                """
                SELECT 1 FROM queue_job
                 WHERE identity_key IN %s
                   AND (state IN ('enqueued', 'started')
                        OR (state = 'pending' AND (eta IS NULL OR eta <= %s)))
                 LIMIT 1
                """,
                (
                    _identity(backend_id, channel),
                    _identity(backend_id, channel, later=True),
                ),
                now + timedelta(seconds=const.WATCHDOG_GRACE_SECONDS),
            )
        )
        return bool(self.env.cr.fetchone())


class _SameCursor:
    """Context manager: the caller's environment inside a savepoint."""

    def __init__(self, env):
        self.env = env
        self._savepoint = None

    def __enter__(self):
        self._savepoint = self.env.cr.savepoint()
        self._savepoint.__enter__()
        return self.env(su=True)

    def __exit__(self, exc_type, exc, tb):
        return self._savepoint.__exit__(exc_type, exc, tb)


class _NewCursor:
    """Context manager: a new transaction, committed on success."""

    def __init__(self, env):
        self.env = env
        self._cr = None

    def __enter__(self):
        self._cr = self.env.registry.cursor()
        self._cr.__enter__()
        return api.Environment(self._cr, SUPERUSER_ID, self.env.context)

    def __exit__(self, exc_type, exc, tb):
        return self._cr.__exit__(exc_type, exc, tb)


def _remember_endpoint(backend, adapter):
    """Keep the API endpoint the adapter discovered (Dotdigital's regional
    ``ApiEndpoint``) so later jobs skip the account-info lookup."""
    endpoint = getattr(adapter, "api_endpoint", "")
    if endpoint and endpoint != backend.sudo().dotdigital_api_endpoint:
        backend.sudo().dotdigital_api_endpoint = endpoint


def _rate_limit_pause(result):
    """Seconds until the ESP's rate-limit window reopens, if none is left."""
    info = (result.detail or {}).get("rate_limit") if result else None
    if not info or info.get("remaining") is None or info["remaining"] > 0:
        return 0
    reset = info.get("reset") or 1.0
    if reset > 1e9:
        reset -= time.time()
    return min(max(float(reset), 1.0), 3600.0)
