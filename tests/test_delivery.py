# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import responses

from .common import KLAVIYO_URL, EspSyncCase


class TestDelivery(EspSyncCase):
    """Jobs deliver the ledger in order, once, and skip unchanged payloads."""

    def test_profile_upsert_by_normalised_email(self):
        self.customer.write({"city": "York"})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            (body,) = self._bodies(rsps, "/api/profile-import")
            headers = rsps.calls[0].request.headers
        attributes = body["data"]["attributes"]
        self.assertEqual(attributes["email"], "ann.customer@example.com")
        self.assertEqual(
            attributes["external_id"], f"odoo-{self.company.id}-{self.customer.id}"
        )
        self.assertEqual(attributes["location"]["city"], "York")
        self.assertEqual(headers["revision"], "2026-07-15")
        event = self.events.search([("res_id", "=", self.customer.id)])
        self.assertEqual(event.state, "sent")
        binding = self.customer.esp_binding_ids
        self.assertEqual(binding.state, "synced")
        self.assertEqual(binding.external_id, "01PROFILE")
        self.assertEqual(self.customer.esp_sync_state, "synced")

    def test_unchanged_profile_is_not_sent_again(self):
        self.customer.write({"city": "York"})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.customer.write({"city": "York"})  # same value: a write, no change
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 1)
        states = self.events.search(
            [("res_id", "=", self.customer.id), ("event_type", "=", "profile")],
            order="id",
        ).mapped("state")
        self.assertEqual(states, ["sent", "skipped"])

    def test_placed_order_event_payload(self):
        order = self._order(qty=3)
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            events = self._bodies(rsps, "/api/events")
        placed = [b for b in events if self._metric(b) == "Placed Order"]
        self.assertEqual(len(placed), 1)
        attributes = placed[0]["data"]["attributes"]
        self.assertEqual(attributes["value"], 300.0)
        self.assertEqual(attributes["value_currency"], order.currency_id.name)
        self.assertTrue(
            attributes["unique_id"].endswith(f"sale.order:{order.id}:order_placed")
        )
        self.assertEqual(attributes["properties"]["OrderName"], order.name)
        self.assertEqual(attributes["properties"]["Items"][0]["SKU"], "SHOE-1")
        ordered = [b for b in events if self._metric(b) == "Ordered Product"]
        self.assertEqual(len(ordered), 1, "one Ordered Product per line")

    def test_events_keep_order_placed_fulfilled_refunded(self):
        order = self._order(qty=3)
        self._deliver(order.picking_ids, qty=1)  # partial: one of three shipped
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            metrics = [
                self._metric(b)
                for b in self._bodies(rsps, "/api/events")
                if self._metric(b) != "Ordered Product"
            ]
            bodies = self._bodies(rsps, "/api/events")
        self.assertEqual(metrics, ["Placed Order", "Fulfilled Order", "Refunded Order"])
        fulfilled = next(b for b in bodies if self._metric(b) == "Fulfilled Order")
        items = fulfilled["data"]["attributes"]["properties"]["Items"]
        self.assertEqual([i["Quantity"] for i in items], [1.0], "shipped lines only")
        refunded = next(b for b in bodies if self._metric(b) == "Refunded Order")
        self.assertEqual(refunded["data"]["attributes"]["value"], 100.0)

    def test_fulfilled_waits_while_placed_fails(self):
        order = self._order()
        self._deliver(order.picking_ids)
        with self._mock() as rsps:
            rsps.add(
                responses.POST,
                f"{KLAVIYO_URL}/api/profile-import",
                json={"data": {"type": "profile", "id": "P1"}},
            )
            rsps.add(
                responses.POST,
                f"{KLAVIYO_URL}/api/events",
                status=400,
                json={
                    "errors": [
                        {
                            "status": 400,
                            "code": "invalid",
                            "title": "Invalid input.",
                            "detail": "value must be a number",
                            "source": {"pointer": "/data/attributes/value"},
                        }
                    ]
                },
            )
            self._run_jobs()
            self.assertEqual(
                len(self._bodies(rsps, "/api/events")), 1, "Fulfilled is not attempted"
            )
        ledger = self.events.search(
            [("group_ref", "=", f"sale.order,{order.id}")], order="sequence"
        )
        self.assertEqual(ledger.mapped("state"), ["failed", "pending"])
        exception = ledger[0].exception_id
        self.assertEqual(exception.category, "data")
        self.assertEqual(exception.team, "marketing")
        self.assertIn("value", exception.message)
        # The cause is fixed at the ESP: Retry delivers both, in order.
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            exception.action_retry()
            self._run_jobs()
            metrics = [self._metric(b) for b in self._bodies(rsps, "/api/events")]
        self.assertEqual(metrics[0], "Placed Order")
        self.assertIn("Fulfilled Order", metrics)
        self.assertEqual(ledger.mapped("state"), ["sent", "sent"])
        self.assertEqual(exception.state, "resolved")

    def test_partners_sharing_an_email_feed_one_profile(self):
        twin = self.env["res.partner"].create(
            {"name": "Ann C. (guest)", "email": "ann.customer@example.com"}
        )
        self._order(partner=self.customer, qty=1)
        self._order(partner=twin, qty=2)
        twin.write({"city": "York"})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            profiles = self._bodies(rsps, "/api/profile-import")
        external_ids = {p["data"]["attributes"]["external_id"] for p in profiles}
        self.assertEqual(external_ids, {f"odoo-{self.company.id}-{self.customer.id}"})
        properties = profiles[-1]["data"]["attributes"]["properties"]
        self.assertEqual(properties["Order Count"], 2)
        self.assertEqual(properties["Total Spend"], 300.0)

    def test_consent_subscribe_and_withdraw(self):
        self.backend.klaviyo_list_id = "LIST1"
        self.customer.write({"esp_marketing_opt_in": True})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            (subscribe,) = self._bodies(
                rsps, "/api/profile-subscription-bulk-create-jobs"
            )
        self.assertIn("ann.customer@example.com", str(subscribe))
        self.assertIn("consented_at", str(subscribe))
        self.customer.write({"esp_marketing_opt_in": False})
        consent = self.events.search(
            [
                ("res_id", "=", self.customer.id),
                ("event_type", "=", "consent"),
                ("state", "=", "pending"),
            ]
        )
        self.assertEqual(consent.priority, 5, "withdrawal travels on the urgent lane")
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.assertEqual(
                len(self._bodies(rsps, "/api/profile-subscription-bulk-delete-jobs")),
                1,
                "withdrawn consent unsubscribes",
            )
        self.env["mail.blacklist"]._add(self.customer.email)
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.assertEqual(
                len(self._bodies(rsps, "/api/profile-suppression-bulk-create-jobs")),
                1,
                "a blacklisted email is suppressed",
            )

    def test_never_opted_in_is_never_subscribed(self):
        self.customer.write({"esp_marketing_opt_in": False, "email": "new@example.com"})
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.assertFalse(
                self._bodies(rsps, "/api/profile-subscription-bulk-create-jobs")
            )

    def test_sync_now_resends_even_unchanged(self):
        self.customer.write({"city": "York"})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.customer.action_esp_sync_now()
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 2)
