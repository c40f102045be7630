# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from ..providers import EspError
from .common import EspSyncCase


class TestEngineDelivery(EspSyncCase):
    """Jobs deliver the ledger in order, once, and skip unchanged payloads.

    Deliveries go to a RecordingAdapter: these tests assert what the engine
    asks an adapter, never an ESP's HTTP bodies.
    """

    def setUp(self):
        super().setUp()
        self.adapter = self._recorder()

    def _order_events(self):
        return self.adapter.calls_of("send_order_event")

    def test_unchanged_profile_is_not_sent_again(self):
        self.customer.write({"city": "York"})
        self._run_jobs()
        self.customer.write({"city": "York"})  # same value: a write, no change
        self._run_jobs()
        self.assertEqual(len(self.adapter.calls_of("upsert_profile")), 1)
        states = self.events.search(
            [("res_id", "=", self.customer.id), ("event_type", "=", "profile")],
            order="id",
        ).mapped("state")
        self.assertEqual(states, ["sent", "skipped"])

    def test_events_keep_order_placed_fulfilled_refunded(self):
        order = self._order(qty=3)
        self._deliver(order.picking_ids, qty=1)  # partial: one of three shipped
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        self._run_jobs()
        events = [args[0] for args in self._order_events()]
        self.assertEqual(
            [event["kind"] for event in events], ["placed", "fulfilled", "refunded"]
        )
        placed, fulfilled, refunded = events
        self.assertEqual(placed["value"], 300.0)
        self.assertEqual(
            [line["quantity"] for line in fulfilled["lines"]], [1.0], "shipped only"
        )
        self.assertEqual(refunded["value"], 100.0)
        self.assertEqual(
            len({event["unique_id"] for event in events}), 3, "one id per event"
        )

    def test_fulfilled_waits_while_placed_fails(self):
        order = self._order()
        self._deliver(order.picking_ids)
        refused = EspError(
            "value must be a number", category="data", status=400, field="value"
        )
        self.adapter.fail("send_order_event", refused)
        self._run_jobs()
        self.assertEqual(len(self._order_events()), 1, "Fulfilled is not attempted")
        ledger = self.events.search(
            [("group_ref", "=", f"sale.order,{order.id}")], order="sequence"
        )
        self.assertEqual(ledger.mapped("state"), ["failed", "pending"])
        exception = ledger[0].exception_id
        self.assertEqual(exception.category, "data")
        self.assertEqual(exception.team, "marketing")
        self.assertIn("value", exception.message)
        # The cause is fixed at the ESP: Retry delivers both, in order.
        self.adapter.calls.clear()
        exception.action_retry()
        self._run_jobs()
        kinds = [args[0]["kind"] for args in self._order_events()]
        self.assertEqual(kinds, ["placed", "fulfilled"])
        self.assertEqual(ledger.mapped("state"), ["sent", "sent"])
        self.assertEqual(exception.state, "resolved")

    def test_consent_subscribe_and_withdraw(self):
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        (subscribe,) = self.adapter.calls_of("update_consent")
        self.assertEqual(subscribe[0]["email"], "ann.customer@example.com")
        self.assertEqual(subscribe[0]["status"], "subscribed")
        self.assertTrue(subscribe[0]["consented_at"])
        self.customer.write({"esp_marketing_opt_in": False})
        consent = self.events.search(
            [
                ("res_id", "=", self.customer.id),
                ("event_type", "=", "consent"),
                ("state", "=", "pending"),
            ]
        )
        self.assertEqual(consent.priority, 5, "withdrawal travels on the urgent lane")
        self.adapter.calls.clear()
        self._run_jobs()
        (withdraw,) = self.adapter.calls_of("update_consent")
        self.assertEqual(withdraw[0]["status"], "unsubscribed")
        self.assertFalse(withdraw[0]["suppressed"])
        self.env["mail.blacklist"]._add(self.customer.email)
        self.adapter.calls.clear()
        self._run_jobs()
        (suppress,) = self.adapter.calls_of("update_consent")
        self.assertTrue(suppress[0]["suppressed"], "a blacklisted email is suppressed")

    def test_never_opted_in_is_never_subscribed(self):
        self.customer.write({"esp_marketing_opt_in": False, "email": "new@example.com"})
        self._run_jobs()
        statuses = [
            args[0]["status"] for args in self.adapter.calls_of("update_consent")
        ]
        self.assertNotIn("subscribed", statuses)
        self.assertTrue(self.adapter.calls, "the profile itself went")

    def test_sync_now_resends_even_unchanged(self):
        self.customer.write({"city": "York"})
        self._run_jobs()
        self.customer.action_esp_sync_now()
        self._run_jobs()
        self.assertEqual(len(self.adapter.calls_of("upsert_profile")), 2)
