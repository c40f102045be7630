# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .common import EspSyncCase
from .klaviyo_common import KlaviyoHttpMixin


class TestKlaviyoDelivery(KlaviyoHttpMixin, EspSyncCase):
    """Odoo records reach Klaviyo as the requests its API expects.

    End to end through the engine and the real Klaviyo adapter, with HTTP
    mocked: what the engine decides is tested on a recording adapter
    (``test_engine_delivery.py``), the adapter alone in ``providers/tests``.
    """

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
