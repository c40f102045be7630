# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one home of delivery: the model ``esp.sync.delivery``, in three files.

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

1 and 6 live in ``esp_sync_delivery_wakeup.py``, 2 and 3 here, 4 and 5 in
``esp_sync_delivery_unit.py``; plain helpers in ``esp_sync_delivery_support``.
"""

import math
import time
import traceback
import zlib
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .. import const
from ..providers import EspError
from .esp_sync_delivery_support import (
    GroupOutcome,
    NewCursor,
    SameCursor,
    due_by,
    is_conflict,
    logger,
    rate_limit_pause,
    testing,
)


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
                    testing()
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
                        not testing()
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
                    due_by(),
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
        return (next_due - due_by()).total_seconds()

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
                    due_by(),
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
        if testing() or not eta:
            self._esp_enqueue_dispatchers({(backend.id, channel)}, eta=eta)
            return
        with self._esp_cursor() as env:
            env["esp.sync.delivery"]._esp_enqueue_dispatchers(
                {(backend.id, channel)}, eta=eta
            )

    def _esp_cursor(self):
        """A transaction of its own (the test's cursor inside tests)."""
        if testing():
            return SameCursor(self.env)
        return NewCursor(self.env)

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
                logger.info(
                    "esp_sync: %s conflicted (%s), retrying", group_ref, err.pgcode
                )
                return GroupOutcome(busy=True)
            error, trace = err, traceback.format_exc()
        except Exception as err:  # any bug must end as a recorded exception
            error, trace = err, traceback.format_exc()
        logger.error(
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
        rows = self.env["esp.sync.event"]._esp_group_rows(backend, group_ref)
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
        now = due_by()
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
                pause = rate_limit_pause(result)
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
