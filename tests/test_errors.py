# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields
from odoo.tools import mute_logger

from ..providers import DeliveryResult, EspError, retry
from .common import KLAVIYO_KEY, EspSyncCase


class TestErrors(EspSyncCase):
    """The engine's answer to each kind of ESP error: retry later, fix data,
    fix configuration.

    Deliveries go to a RecordingAdapter scripted to fail as an ESP would;
    how each ESP's HTTP answers become these errors is tested per provider
    (``providers/tests/test_*_errors.py``).
    """

    def setUp(self):
        super().setUp()
        self.adapter = self._recorder()

    def _profile_event(self):
        self.customer.write({"city": "York"})
        return self.events.search(
            [("res_id", "=", self.customer.id), ("event_type", "=", "profile")]
        )

    def _fail_profile(self, status, retry_after=None, message="Something went wrong"):
        """The next profile delivery fails as the ESP's HTTP ``status`` would."""
        category = {
            429: "rate_limit",
            401: "authentication",
            404: "configuration",
            400: "data",
        }.get(status, "transient")
        error = EspError(
            message, category=category, status=status, retry_after=retry_after
        )
        self.adapter.fail("upsert_profile", error)

    def _follow_up_scheduled(self):
        """A dispatcher job with an eta: trapped, or stored by the trap's
        identity short-cut."""
        if any(job.eta for job in self.trap.enqueued_jobs):
            return True
        return bool(
            self.env["queue.job"].search_count(
                [
                    ("identity_key", "=like", f"esp_sync:dispatch:{self.backend.id}:%"),
                    ("eta", "!=", False),
                    ("state", "=", "pending"),
                ]
            )
        )

    def _seconds_until(self, moment):
        return (moment - fields.Datetime.now()).total_seconds()

    def test_429_waits_retry_after_and_never_counts(self):
        event = self._profile_event()
        for _round in range(3):
            self._fail_profile(429, retry_after=17)
            self.trap.perform_enqueued_jobs()
            self.assertEqual(event.state, "pending", "nothing lost")
            self.assertEqual(event.attempts, 0, "a rate limit is not a failure")
            self.assertAlmostEqual(self._seconds_until(event.due_at), 17, delta=2)
            self.assertFalse(self.backend.paused_until, "other groups go on")
            self.assertTrue(self._follow_up_scheduled(), "a job after Retry-After")
            event.due_at = fields.Datetime.now()
            self.env["esp.sync.delivery"]._esp_wake({(self.backend.id, "bulk")})
        self.assertFalse(event.retry_since, "rate limits never start the budget")

    def test_500_and_network_errors_back_off_exponentially(self):
        event = self._profile_event()
        waits = []
        for _round in range(3):
            self._fail_profile(503)
            self.trap.perform_enqueued_jobs()
            waits.append(self._seconds_until(event.due_at))
            event.due_at = fields.Datetime.now()
            self.env["esp.sync.delivery"]._esp_wake({(self.backend.id, "bulk")})
        self.assertEqual(event.attempts, 3)
        self.assertTrue(event.retry_since)
        self.assertLess(waits[0], waits[1])
        self.assertLess(waits[1], waits[2])
        self.assertLessEqual(max(waits), retry.CAP_SECONDS)
        self.adapter.fail(
            "upsert_profile", EspError("Connection refused", category="transient")
        )
        self.trap.perform_enqueued_jobs()
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.attempts, 4)

    def test_an_outage_that_says_retry_after_does_not_grow_the_backoff(self):
        event = self._profile_event()
        for _round in range(3):
            self._fail_profile(503, retry_after=5)
            self.trap.perform_enqueued_jobs()
            self.assertAlmostEqual(self._seconds_until(event.due_at), 5, delta=2)
            event.due_at = fields.Datetime.now()
            self.env["esp.sync.delivery"]._esp_wake({(self.backend.id, "bulk")})
        self.assertEqual((event.attempts, event.backoff_level), (3, 0))
        self._fail_profile(503)
        self.trap.perform_enqueued_jobs()
        self.assertLessEqual(self._seconds_until(event.due_at), 3, "a first back-off")

    def test_retries_give_up_after_the_time_budget_then_recorded(self):
        event = self._profile_event()
        self.backend.retry_budget_hours = 2
        event.write(
            {
                "attempts": 7,
                "retry_since": fields.Datetime.subtract(fields.Datetime.now(), hours=1),
            }
        )
        self._fail_profile(500)
        self._run_jobs(rounds=1)
        self.assertEqual(event.state, "pending", "within the budget: retried")
        event.write(
            {
                "due_at": fields.Datetime.now(),
                "retry_since": fields.Datetime.subtract(fields.Datetime.now(), hours=3),
            }
        )
        self.env["esp.sync.delivery"]._esp_wake({(self.backend.id, "bulk")})
        self._fail_profile(500)
        self._run_jobs(rounds=1)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_id.category, "transient")
        self.assertEqual(event.exception_id.team, "operations")
        self.assertIn("Gave up", event.exception_id.message)

    def test_success_before_a_rate_limit_commits_and_reschedules(self):
        order = self._order()
        self._deliver(order.picking_ids)
        self.adapter.answer(
            "send_order_event",
            DeliveryResult(),
            EspError("Throttled", category="rate_limit", status=429, retry_after=5),
        )
        self.trap.perform_enqueued_jobs()
        ledger = self.events.search(
            [("group_ref", "=", f"sale.order,{order.id}")], order="sequence"
        )
        self.assertEqual(ledger.mapped("state"), ["sent", "pending"])
        self.assertEqual(len(self.adapter.calls_of("send_order_event")), 2)
        self.assertTrue(all(job.eta for job in self.trap.enqueued_jobs))
        self.assertGreater(ledger[1].due_at, fields.Datetime.now(), "after Retry-After")

    def test_used_up_rate_limit_window_pauses_the_group(self):
        order = self._order()
        self._deliver(order.picking_ids)
        window_closed = {"limit": 350, "remaining": 0, "reset": 7}
        self.adapter.answer(
            "send_order_event", DeliveryResult(detail={"rate_limit": window_closed})
        )
        self.trap.perform_enqueued_jobs()
        (placed,) = self.adapter.calls_of("send_order_event")
        self.assertEqual(placed[0]["kind"], "placed")
        ledger = self.events.search(
            [("group_ref", "=", f"sale.order,{order.id}")], order="sequence"
        )
        self.assertEqual(ledger.mapped("state"), ["sent", "pending"])
        self.assertTrue(self.backend.paused_until, "every channel waits")
        self.assertTrue(self.trap.enqueued_jobs, "resumes when the window reopens")
        self.assertTrue(all(job.eta for job in self.trap.enqueued_jobs))

    @mute_logger("odoo.addons.esp_sync.models.esp_sync_binding")
    def test_401_is_an_it_exception_without_the_key(self):
        event = self._profile_event()
        self._fail_profile(401, message=f"Bad key {KLAVIYO_KEY}")
        self._run_jobs()
        exception = event.exception_id
        self.assertEqual(exception.category, "authentication")
        self.assertEqual(exception.team, "it")
        self.assertNotIn(KLAVIYO_KEY, exception.message)
        chatter = self.customer.message_ids.mapped("body")
        self.assertTrue(any("Klaviyo test" in b for b in chatter), "chatter says so")
        self.assertFalse(any(KLAVIYO_KEY in b for b in chatter))

    def test_404_is_a_configuration_exception(self):
        event = self._profile_event()
        self._fail_profile(404)
        self._run_jobs()
        self.assertEqual(event.exception_id.category, "configuration")

    def test_missing_credentials_recorded_then_delivered_once_fixed(self):
        self.backend.api_key = False
        event = self._profile_event()
        self._run_jobs()
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_id.code, "missing_credentials")
        self.backend.api_key = KLAVIYO_KEY
        event.exception_id.action_retry()
        self._run_jobs()
        self.assertEqual(event.state, "sent")

    def test_malformed_email_is_a_data_exception(self):
        self.customer.write({"email": "ann@@example"})  # Odoo keeps it
        self._run_jobs()
        self.assertFalse(self.adapter.calls, "nothing is sent for a bad address")
        exceptions = self.env["esp.sync.exception"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        # The consent of the new address waits behind the failed move.
        self.assertEqual(exceptions.mapped("stream"), ["profile"])
        exception = exceptions
        self.assertEqual(exception.code, "email_invalid")
        self.assertEqual(exception.category, "data")
        self.assertIn("ann@@example", exception.message)
        ledger = self.events.search([("res_id", "=", self.customer.id)])
        self.assertNotIn("sent", ledger.mapped("state"))
        # Fixed in Odoo: the waiting events go out, the exception closes.
        self.customer.write({"email": "ann@example.com"})
        exceptions.action_retry()
        self._run_jobs()
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        ledger = self.events.search([("res_id", "=", self.customer.id)])
        self.assertEqual(set(ledger.mapped("state")) - {"skipped"}, {"sent"})

    def test_repeated_failure_counts_on_one_exception(self):
        event = self._profile_event()
        for _i in range(2):
            self._fail_profile(400)
            event.action_retry()
            self._run_jobs()
        exceptions = self.env["esp.sync.exception"].search(
            [("res_id", "=", self.customer.id), ("res_model", "=", "res.partner")]
        )
        self.assertEqual(len(exceptions), 1)
        self.assertEqual(exceptions.count, 2)

    def test_sync_now_without_email_is_a_data_exception(self):
        nameless = self.env["res.partner"].create(
            {"name": "Walk-in", "customer_rank": 1}
        )
        self.backend.partner_domain = "[('customer_rank', '>', 0)]"
        nameless.action_esp_sync_now()
        self._run_jobs()
        self.assertFalse(self.adapter.calls)
        exception = self.env["esp.sync.exception"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", nameless.id),
                ("stream", "=", "profile"),
            ]
        )
        self.assertEqual(exception.code, "email_missing")
        self.assertIn("Walk-in", exception.message)

    def test_latency_alert_for_operations(self):
        event = self._profile_event()
        self.backend.latency_alert_minutes = 10
        incidents = self.env["esp.sync.incident"]
        self.env["esp.backend"]._cron_check_latency()
        self.assertFalse(incidents.search([("kind", "=", "latency")]))
        event.occurred_at = fields.Datetime.subtract(fields.Datetime.now(), minutes=30)
        self.env["esp.backend"]._cron_check_latency()
        alert = incidents.search([("kind", "=", "latency")])
        self.assertEqual(alert.team, "operations")
        self.assertEqual(alert.backend_id, self.backend)
        self.assertIn("1 change(s)", alert.message)
        self._run_jobs()
        self.env["esp.backend"]._cron_check_latency()
        self.assertEqual(alert.state, "closed")

    def test_ignore_unblocks_the_group(self):
        event = self._profile_event()
        self._fail_profile(400)
        self._run_jobs()
        event.exception_id.action_ignore()
        self.assertEqual(event.state, "skipped")
        self.assertEqual(event.exception_id.state, "ignored")
