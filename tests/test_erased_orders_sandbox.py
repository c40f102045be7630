# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An erased customer's orders: not sent, or (Klaviyo) sent without personal
data, end to end on the in-process sandbox."""

import json

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.esp_sync.providers.mailchimp import adapter as mailchimp_adapter

from .common import EspSyncCase, use_shared_specs
from .test_erasure_sandbox import AUDIENCE

KLAVIYO_KEY = "pk_sandbox_erased_orders"
MAILCHIMP_KEY = "sandboxerasedorders-us1"


@tagged("post_install", "-at_install")
class TestErasedOrdersSandbox(EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.write({"base_url": cls.sb.url + "/klaviyo", "api_key": KLAVIYO_KEY})
        cls.mailchimp = cls.env["esp.backend"].create(
            {
                "name": "Mailchimp test",
                "provider": "mailchimp",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("mailchimp"),
                "api_key": MAILCHIMP_KEY,
                "mailchimp_list_id": AUDIENCE,
                "mailchimp_store_id": "store-erased-orders",
            }
        )
        cls.email = "ann.customer@example.com"

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        mailchimp_adapter._merge_tags_cache.clear()

    def _erased_customer(self):
        """Ann bought, then was erased at every ESP."""
        self.customer.write({"esp_marketing_opt_in": True})
        self._order(qty=1)
        self._run_jobs()
        self.customer._esp_erase(reason="Asked by email")
        self._run_jobs()
        self.sb.clear_requests()

    def _klaviyo_events(self):
        return self.sb.state("klaviyo").get(KLAVIYO_KEY, {}).get("events", [])

    def _bodies(self, provider):
        return json.dumps([r["body"] for r in self.sb.requests(provider)])

    def test_not_sent_by_default(self):
        self._erased_customer()
        ledger = self.events.search_count([])
        self._order(qty=2)
        self._run_jobs()
        self.assertEqual(self.events.search_count([]), ledger, "nothing recorded")
        self.assertFalse(self.sb.requests("klaviyo"))
        self.assertFalse(self.sb.requests("mailchimp"))

    def test_klaviyo_sends_them_without_personal_data(self):
        self.backend.erased_order_policy = "anonymous"
        self._erased_customer()
        order = self._order(qty=2)
        self._run_jobs()
        placed = [e for e in self._klaviyo_events() if e["metric"] == "Placed Order"]
        self.assertEqual(len(placed), 1)
        self.assertEqual(placed[0]["properties"]["OrderName"], order.name)
        sent = self._bodies("klaviyo")
        self.assertIn("odoo-anon-", sent)
        for personal in (self.email, "Ann", "Leeds", f"res.partner-{self.customer.id}"):
            self.assertNotIn(personal, sent, "no personal data leaves")
        profiles = self.sb.state("klaviyo")[KLAVIYO_KEY]["profiles"].values()
        self.assertFalse([p for p in profiles if p["email"] == self.email])
        # Nothing about the person besides the order: no profile, no consent.
        self.assertFalse(
            [r for r in self.sb.requests("klaviyo") if "profile-" in r["path"]]
        )
        self.assertFalse(self.sb.requests("mailchimp"), "Mailchimp: not sent")
        # Another order is another anonymous profile (nothing links them).
        self._order(qty=1)
        self._run_jobs()
        anonymous = {
            p["anonymous_id"]
            for p in self.sb.state("klaviyo")[KLAVIYO_KEY]["profiles"].values()
            if p.get("anonymous_id")
        }
        self.assertEqual(len(anonymous), 2)

    def test_only_klaviyo_offers_it(self):
        with self.assertRaises(ValidationError):
            self.mailchimp.erased_order_policy = "anonymous"
