# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Delivery, steps 1 and 6: the wake-up after commit, and the watchdog."""

import functools
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from .. import const
from .esp_sync_delivery_support import (
    dispatch_identity,
    logger,
    testing,
    wake_after_commit,
)


class EspSyncDeliveryWakeup(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    # -------------------------------------------------------------- 1. wake
    @api.model
    def _esp_wake(self, pairs):
        """Ask for delivery of (backend id, channel) pairs after commit."""
        pairs = set(pairs)
        if not pairs:
            return
        if testing():
            self._esp_enqueue_dispatchers(pairs)
            return
        data = self.env.cr.postcommit.data
        if "esp_sync.wake" not in data:
            data["esp_sync.wake"] = set()
            self.env.cr.postcommit.add(
                functools.partial(
                    wake_after_commit, self.env.registry, data["esp_sync.wake"]
                )
            )
        data["esp_sync.wake"] |= pairs

    @api.model
    def _esp_enqueue_dispatchers(self, pairs, eta=None):
        """One dispatcher job per pair, unless one that will start later exists.

        A pending or enqueued job has not read the ledger yet, so it will see
        every committed row. One query finds the pairs that have one (the
        common case under load): only the others create a job.
        """
        backends = self.env["esp.backend"].sudo()
        if not eta and not testing():
            pairs = self._esp_pairs_without_job(pairs)
        for backend_id, channel in sorted(pairs):
            backend = backends.browse(backend_id)
            if eta:
                if self._esp_follow_up_exists(backend_id, channel, eta):
                    continue
                identity = dispatch_identity(backend_id, channel, later=True)
            else:
                identity = dispatch_identity(backend_id, channel)
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
    def _esp_pairs_without_job(self, pairs):
        """The (backend, channel) pairs with no dispatcher waiting to start."""
        identities = {dispatch_identity(*pair): pair for pair in pairs}
        self.env.cr.execute(
            """
            SELECT identity_key FROM queue_job
             WHERE identity_key = ANY(%s) AND state IN ('pending', 'enqueued')
               AND eta IS NULL
            """,
            (list(identities),),
        )
        waiting = {row[0] for row in self.env.cr.fetchall()}
        return {pair for key, pair in identities.items() if key not in waiting}

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
                    dispatch_identity(backend_id, channel),
                    dispatch_identity(backend_id, channel, later=True),
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
            logger.info(
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
                    dispatch_identity(backend_id, channel),
                    dispatch_identity(backend_id, channel, later=True),
                ),
                now + timedelta(seconds=const.WATCHDOG_GRACE_SECONDS),
            )
        )
        return bool(self.env.cr.fetchone())
