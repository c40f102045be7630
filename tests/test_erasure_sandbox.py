# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Right to erasure, end to end: Odoo -> jobs -> the three ESPs (sandbox).

One company with a Klaviyo, a Mailchimp and a Dotdigital backend on the
in-process sandbox (requests validated against the vendors' OpenAPI
documents); a second company's backend that never knew the person.
"""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter
from odoo.addons.esp_sync.providers.mailchimp import adapter as mailchimp_adapter
from odoo.addons.esp_sync.providers.mailchimp.util import subscriber_hash

from .. import const
from .common import EspSyncCase, use_shared_specs

KLAVIYO_KEY = "pk_sandbox_erasure"
MAILCHIMP_KEY = "sandboxerasure-us1"
AUDIENCE = "aud00001"
DD_USER = "apiuser-sandbox-erasure@apiconnector.com"


@tagged("post_install", "-at_install")
class TestErasureSandbox(EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.write({"base_url": cls.sb.url + "/klaviyo", "api_key": KLAVIYO_KEY})
        backends = cls.env["esp.backend"]
        cls.mailchimp = backends.create(
            {
                "name": "Mailchimp test",
                "provider": "mailchimp",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("mailchimp"),
                "api_key": MAILCHIMP_KEY,
                "mailchimp_list_id": AUDIENCE,
                "mailchimp_store_id": "store-erasure",
            }
        )
        cls.dotdigital = backends.create(
            {
                "name": "Dotdigital test",
                "provider": "dotdigital",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("dotdigital"),
                "api_user": DD_USER,
                "api_secret": "sandbox-password",
                "dotdigital_address_book_id": "1",
            }
        )
        cls.other = cls._other_company_backend(cls, api_key="pk_sandbox_brand_b")
        cls.other.base_url = cls.sb.url + "/klaviyo"
        cls.email = "ann.customer@example.com"
        group = cls.env.ref
        users = cls.env["res.users"]
        cls.manager = users.create(
            {
                "name": "Privacy Officer",
                "login": "esp_erasure_manager",
                "groups_id": [
                    (6, 0, [group("esp_sync.group_esp_sync_manager").id]),
                    (4, group("base.group_partner_manager").id),
                ],
            }
        )
        cls.clerk = users.create(
            {
                "name": "Sync Viewer",
                "login": "esp_erasure_clerk",
                "groups_id": [(6, 0, [group("esp_sync.group_esp_sync_user").id])],
            }
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        mailchimp_adapter._merge_tags_cache.clear()
        dotdigital_adapter._fields_cache.clear()
        answer = self.backend._esp_adapter()._request(
            "POST",
            "/api/lists",
            json={"data": {"type": "list", "attributes": {"name": "Newsletter"}}},
        )
        self.backend.klaviyo_list_id = answer["data"]["id"]

    # ------------------------------------------------------------- helpers
    def _at_klaviyo(self, email=None):
        profiles = self.sb.state("klaviyo").get(KLAVIYO_KEY, {}).get("profiles", {})
        return [p for p in profiles.values() if p["email"] == (email or self.email)]

    def _at_mailchimp(self, email=None):
        members = self.sb.state("mailchimp", MAILCHIMP_KEY).get("members", {})
        return members.get(AUDIENCE, {}).get(subscriber_hash(email or self.email))

    def _at_dotdigital(self, email=None):
        contacts = self.sb.state("dotdigital", DD_USER).get("contacts", {}).values()
        email = email or self.email
        return [c for c in contacts if c["identifiers"]["email"] == email]

    def _requests(self):
        providers = ("klaviyo", "mailchimp", "dotdigital")
        return sum(len(self.sb.requests(p)) for p in providers)

    def _synced_customer(self):
        """Ann opted in and bought: the three ESPs know her."""
        self.customer.write({"esp_marketing_opt_in": True, "city": "York"})
        self._order(qty=1)
        self._run_jobs()
        self.assertTrue(self._at_klaviyo(), "Klaviyo knows her")
        self.assertTrue(self._at_mailchimp(), "Mailchimp knows her")
        self.assertTrue(self._at_dotdigital(), "Dotdigital knows her")

    # --------------------------------------------------------------- tests
    def test_erased_at_every_esp_and_nothing_recreates_them(self):
        self._synced_customer()
        self.customer.with_user(self.manager).action_esp_erase(reason="Asked by phone")
        erasures = self._ledger(event_type="erasure")
        self.assertEqual(
            set(erasures.backend_id.ids),
            {self.backend.id, self.mailchimp.id, self.dotdigital.id},
            "one deletion per backend that knew her, none for Brand B",
        )
        self.assertEqual(len(erasures), 3)
        self.assertEqual(set(erasures.mapped("priority")), {const.PRIORITY_URGENT})
        self.assertTrue(self.customer.is_blacklisted, "blacklisted in Odoo")
        self.assertFalse(self.customer.esp_marketing_opt_in)
        self._run_jobs()
        self.assertEqual(set(erasures.mapped("state")), {"sent"})
        self.assertFalse(self._at_klaviyo(), "gone at Klaviyo")
        self.assertIsNone(self._at_mailchimp(), "gone at Mailchimp")
        self.assertFalse(self._at_dotdigital(), "gone at Dotdigital")
        self.assertTrue(
            [
                r
                for r in self.sb.requests("mailchimp")
                if r["path"].endswith("/actions/delete-permanent")
            ]
        )
        self.assertFalse(
            self.env["esp.sync.binding"].search(
                [("partner_id", "=", self.customer.id)]
            ),
            "bindings dropped",
        )
        # Consent history: the erasure, with the reason; no clear address.
        log = self.env["esp.consent.log"].search(
            [("partner_id", "=", self.customer.id)]
        )
        erased = log.filtered(lambda r: r.event == "erased")
        self.assertEqual(len(erased), 1)
        self.assertIn("Asked by phone", erased.note)
        self.assertNotIn(self.email, log.mapped("email"))
        self.assertEqual(len(set(log.mapped("email"))), 1, "one keyed hash")
        self.assertIn("opt_in", log.mapped("event"), "history kept, address hashed")
        # Nothing recreates her: an edit, an opt-in tick, a confirmed order.
        ledger = self.events.search_count([])
        requests = self._requests()
        self.customer.write({"city": "Hull", "phone": "+44 113 000 0000"})
        self.customer.write({"esp_marketing_opt_in": True})
        order = self._order(qty=2)
        self.assertEqual(order.state, "sale")
        self.env["mail.blacklist"]._remove(self.email)  # a later mistake
        self.assertEqual(self.events.search_count([]), ledger, "nothing recorded")
        log = self.env["esp.consent.log"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertIn("unblacklisted", log.mapped("event"))
        self.assertNotIn(self.email, log.mapped("email"), "still only the hash")
        self._run_jobs()
        self.assertEqual(self._requests(), requests, "nothing sent")
        self.assertFalse(self._at_klaviyo())
        self.assertIsNone(self._at_mailchimp())
        self.assertFalse(self._at_dotdigital())

    def test_waiting_rows_are_dropped(self):
        self._synced_customer()
        self.customer.write({"city": "Hull"})
        waiting = self._ledger(
            event_type="profile", res_id=self.customer.id, state="pending"
        )
        self.assertTrue(waiting)
        self.customer.with_user(self.manager)._esp_erase()
        self.assertEqual(set(waiting.mapped("state")), {"skipped"})
        self._run_jobs()
        self.assertFalse(self._at_klaviyo())
        self.assertFalse(self._at_dotdigital())

    def test_a_contact_with_the_same_address_is_erased_too(self):
        self._synced_customer()
        twin = self.env["res.partner"].create(
            {
                "name": "Ann (shop account)",
                "email": "ann.customer@example.com",
                "customer_rank": 1,
            }
        )
        self.customer.with_user(self.manager)._esp_erase()
        self.assertTrue(twin.esp_erased_at, "one person at the ESPs")
        self.assertEqual(len(self._ledger(event_type="erasure")), 3)
        self._run_jobs()
        requests = self._requests()
        twin.write({"city": "Hull"})
        self._order(partner=twin, qty=1)
        self._run_jobs()
        self.assertEqual(self._requests(), requests)
        self.assertFalse(self._at_klaviyo())

    def test_only_managers_erase(self):
        self._synced_customer()
        customer = self.customer.with_user(self.clerk)
        with self.assertRaises(AccessError):
            customer.action_esp_erase()
        with self.assertRaises(AccessError):
            customer._esp_erase("no")
        self.assertFalse(self._ledger(event_type="erasure"))
        self.assertFalse(self.customer.esp_erased_at)
        nobody = self.env["res.partner"].create({"name": "No Address"})
        with self.assertRaises(UserError):
            nobody.with_user(self.manager).action_esp_erase()

    def test_a_failed_deletion_is_retried_until_the_esp_accepts_it(self):
        self._synced_customer()
        self.sb.configure(
            faults=[
                {
                    "provider": "dotdigital",
                    "endpoint": "DELETE *",
                    "fail_next": 1,
                    "status": 503,
                }
            ]
        )
        self.customer.with_user(self.manager)._esp_erase()
        self._run_jobs()
        deletes = [
            r["status"]
            for r in self.sb.requests("dotdigital")
            if r["method"] == "DELETE"
        ]
        self.assertEqual(deletes, [503, 200], "refused once, asked again")
        erasure = self._ledger(event_type="erasure", backend_id=self.dotdigital.id)
        self.assertEqual(erasure.state, "sent")
        self.assertEqual(erasure.attempts, 2)
        self.assertFalse(self._at_dotdigital(), "deleted on the retry")
        self.assertFalse(self._at_klaviyo(), "the other ESPs were not held")
        outcomes = self.env["esp.erasure.log"].search(
            [("backend_id", "=", self.dotdigital.id)]
        )
        self.assertEqual(sorted(outcomes.mapped("outcome")), ["done", "requested"])

    def test_deleting_a_duplicate_contact_erases_nobody(self):
        self._synced_customer()
        twin = self.env["res.partner"].create(
            {
                "name": "Ann (old account)",
                "email": "ann.customer@example.com",
                "company_id": self.company.id,
                "customer_rank": 1,
            }
        )
        self._run_jobs()
        self.assertTrue(twin.esp_binding_ids, "the twin was synced too")
        twin.unlink()
        self.assertFalse(self._ledger(event_type="erasure"))
        self.assertFalse(self.customer.esp_erased_at)
        self.assertTrue(self._at_klaviyo())
        # Deleting the last contact with an address erases it (no blacklist:
        # nothing is left in Odoo to re-create them from).
        bob = self.env["res.partner"].create(
            {
                "name": "Bob",
                "email": "bob@example.com",
                "company_id": self.company.id,
                "customer_rank": 1,
                "esp_marketing_opt_in": True,
            }
        )
        self._run_jobs()
        self.assertTrue(self._at_klaviyo(email="bob@example.com"))
        bob.unlink()
        self.assertEqual(len(self._ledger(event_type="erasure")), 3)
        self.assertFalse(
            self.env["mail.blacklist"].search([("email", "=", "bob@example.com")])
        )
        self._run_jobs()
        self.assertFalse(self._at_klaviyo(email="bob@example.com"))
        self.assertIsNone(self._at_mailchimp(email="bob@example.com"))
        self.assertFalse(self._at_dotdigital(email="bob@example.com"))
        self.assertTrue(self._at_klaviyo(), "Ann is still there")

    def test_a_backfill_never_recreates_an_erased_person(self):
        self._synced_customer()
        self.customer.with_user(self.manager)._esp_erase()
        self._run_jobs()
        self.assertFalse(self._at_klaviyo())
        for backend in (self.backend, self.dotdigital):
            self.env["esp.backfill.wizard"].create(
                {"backend_id": backend.id, "scope": "all"}
            ).action_start()
        self._run_jobs(rounds=30)
        runs = self.env["esp.backfill"].search([])
        self.assertEqual(set(runs.mapped("state")), {"done"})
        self.assertFalse(self._at_klaviyo(), "not re-created by the backfill")
        self.assertFalse(self._at_dotdigital())
