# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Races that only show with several transactions: real cursors, committed.

Each test works on records committed at install (the demo backend and
partner) and removes what it committed.
"""

import threading
from unittest import mock

import psycopg2
import psycopg2.errors

from odoo import SUPERUSER_ID, api
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import mute_logger

from ..models import esp_sync_delivery_support, esp_sync_delivery_wakeup


@tagged("post_install", "-at_install")
class TestEngineConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        self.backend = self.env.ref("esp_sync.demo_backend_klaviyo")
        self.partner = self.env.ref("base.res_partner_12")
        self.addCleanup(self._cleanup)

    def _cursor_env(self, cr):
        # Tests run under the registry lock: a thread must not ask for it.
        if cr.transaction is None:
            cr.transaction = api.Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM esp_sync_binding WHERE backend_id = %s AND res_id = %s"
                " AND res_model = 'res.partner' AND create_date > now()"
                " - interval '1 hour' AND last_sync_at IS NULL",
                (self.backend.id, self.partner.id),
            )
            cr.execute(
                "DELETE FROM queue_job WHERE identity_key LIKE %s",
                (f"esp_sync:dispatch:{self.backend.id}:%",),
            )
            cr.execute(
                "DELETE FROM esp_sync_event WHERE idempotency_key LIKE 'race:%%'"
            )

    def _get_binding(self, cr, stream):
        env = self._cursor_env(cr)
        return (
            env["esp.sync.binding"]
            ._esp_get(
                env["esp.backend"].browse(self.backend.id),
                env["res.partner"].browse(self.partner.id),
                stream,
            )
            .id
        )

    def _race(self, first_stream, second_stream):
        """Two jobs create bindings at once; return (ids, error of the second)."""
        first, second = self.registry.cursor(), self.registry.cursor()
        results, errors = {}, []

        def other_job():
            try:
                results["second"] = self._get_binding(second, second_stream)
                second.commit()
            except Exception as err:
                errors.append(err)
                second.rollback()

        try:
            results["first"] = self._get_binding(first, first_stream)
            thread = threading.Thread(target=other_job)
            thread.start()
            thread.join(1.0)
            results["waited"] = thread.is_alive()

            first.commit()
            thread.join(10)
        finally:
            first.close()
            second.close()
        return results, errors[0] if errors else None

    def test_consent_and_profile_jobs_never_meet_on_a_binding(self):
        """Item 2: both jobs reach a new partner at once, neither waits."""
        results, error = self._race("profile", "consent")
        self.assertIsNone(error)
        self.assertFalse(results["waited"], "no lock shared by the two streams")
        self.assertNotEqual(results["first"], results["second"])

    @mute_logger("odoo.sql_db")
    def test_same_binding_twice_is_a_retryable_conflict_at_worst(self):
        """One stream is one group (one job at a time); should two
        transactions still meet, the second gets the row or a conflict the
        dispatcher retries — never a UniqueViolation that kills a job."""
        results, error = self._race("profile", "profile")
        if error is None:
            self.assertEqual(results["first"], results["second"])
        else:
            self.assertIsInstance(error, psycopg2.Error)
            self.assertIn(error.pgcode, esp_sync_delivery_support.CONFLICT_CODES)
            self.assertNotEqual(error.pgcode, "23505", "not a unique violation")

    def test_a_database_conflict_retries_the_group_at_no_cost(self):
        delivery = self.env["esp.sync.delivery"]
        conflict = psycopg2.errors.SerializationFailure("concurrent update")
        with mock.patch.object(
            type(delivery), "_esp_deliver_group", side_effect=conflict
        ):
            outcome = delivery._esp_run_group(self.backend, "res.partner,1")
        self.assertTrue(outcome.busy)
        self.assertFalse(
            self.env["esp.sync.exception"].search([("category", "=", "unexpected")])
        )

    def test_wake_up_is_created_after_the_users_commit(self):
        """Items 3 and 6: a job can never start before the rows it must see."""
        identity = f"esp_sync:dispatch:{self.backend.id}:bulk"
        with mock.patch.object(esp_sync_delivery_wakeup, "testing", return_value=False):
            user = self.registry.cursor()
            try:
                env = self._cursor_env(user)
                env["esp.sync.delivery"]._esp_wake({(self.backend.id, "bulk")})
                with self.registry.cursor() as runner:
                    runner.execute(
                        "SELECT count(*) FROM queue_job WHERE identity_key = %s",
                        (identity,),
                    )
                    self.assertEqual(
                        runner.fetchone()[0], 0, "no job exists before the commit"
                    )
                user.commit()  # runs the postcommit wake-up
            finally:
                user.close()
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state FROM queue_job WHERE identity_key = %s", (identity,)
            )
            self.assertEqual([row[0] for row in cr.fetchall()], ["pending"])

    def test_a_started_job_does_not_swallow_a_new_wake_up(self):
        """The job that is already running may have read the ledger before
        the commit: a new job is created; a pending one is reused."""
        identity = f"esp_sync:dispatch:{self.backend.id}:bulk"
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            delivery = env["esp.sync.delivery"]
            delivery._esp_enqueue_dispatchers({(self.backend.id, "bulk")})
            delivery._esp_enqueue_dispatchers({(self.backend.id, "bulk")})
            cr.execute(
                "SELECT count(*) FROM queue_job WHERE identity_key = %s", (identity,)
            )
            self.assertEqual(cr.fetchone()[0], 1, "a pending job is reused")
            cr.execute(
                "UPDATE queue_job SET state = 'started' WHERE identity_key = %s",
                (identity,),
            )
            delivery._esp_enqueue_dispatchers({(self.backend.id, "bulk")})
            cr.execute(
                "SELECT state FROM queue_job WHERE identity_key = %s ORDER BY id",
                (identity,),
            )
            self.assertEqual([row[0] for row in cr.fetchall()], ["started", "pending"])
            cr.rollback()
