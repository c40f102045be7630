# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import ValidationError

from odoo.addons.esp_sync.providers.mailchimp.util import subscriber_hash

from .mailchimp_common import AUDIENCE, MAILCHIMP_KEY, MailchimpCase


class TestMailchimpRouting(MailchimpCase):
    """Who syncs where: audience rules, exclusions, one member per email."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        quiet = cls.env["res.partner"].with_context(esp_sync_no_capture=True)
        cls.acme = quiet.create(
            {"name": "Acme Ltd", "is_company": True, "customer_rank": 1}
        )
        cls.buyer = quiet.create(
            {
                "name": "Bob Buyer",
                "email": "bob@acme.example.com",
                "parent_id": cls.acme.id,
                "customer_rank": 1,
            }
        ).with_context(esp_sync_no_capture=False)
        cls.vip_tag = cls.env["res.partner.category"].create({"name": "VIP"})

    def _routing(self, b2c_store="store-b2c"):
        """B2B and B2C audiences; only B2C has a store."""
        self.b2b_list = self._create_audience("B2B")
        self.b2c_list = self._create_audience("B2C")
        self.mailchimp.write(
            {
                "audience_rule_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "B2B",
                            "company_type": "b2b",
                            "sequence": 10,
                            "list_id": self.b2b_list,
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "name": "B2C",
                            "company_type": "b2c",
                            "sequence": 20,
                            "list_id": self.b2c_list,
                            "store_id": b2c_store,
                        },
                    ),
                ]
            }
        )

    def _events(self, partner):
        return self.events.search(
            [
                ("backend_id", "=", self.mailchimp.id),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", partner.id),
            ]
        )

    def test_without_rules_everyone_goes_to_the_backend_audience(self):
        self.customer.write({"city": "York"})
        self._run_jobs()
        member = self._member(self.customer.email)
        self.assertEqual(member["merge_fields"]["FNAME"], "Ann")
        self.assertEqual(member["status"], "transactional", "no opt-in: not marketed")

    def test_supplier_employee_and_company_never_sync(self):
        supplier = self.env["res.partner"].create(
            {"name": "Bolt Supplies", "email": "sales@bolts.example.com"}
        )
        supplier.write({"supplier_rank": 1, "city": "Hull"})
        employee = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Eve Employee",
                    "login": "eve@example.com",
                    "email": "eve@example.com",
                }
            )
            .partner_id
        )
        employee.write({"city": "Hull"})
        self.company.partner_id.write({"email": "shop@example.com", "city": "Hull"})
        self._run_jobs()
        for partner in supplier | employee | self.company.partner_id:
            self.assertFalse(self._events(partner), partner.name)
        self.assertFalse(self._member_puts(), "nothing reached Mailchimp")

    def test_b2b_and_b2c_land_in_their_audiences(self):
        self._routing()
        (self.customer | self.buyer).write({"city": "York"})
        self._run_jobs()
        puts = {r["path"].split("/")[3] for r in self._member_puts()}
        self.assertEqual(puts, {self.b2b_list, self.b2c_list})
        self.assertTrue(self._member(self.buyer.email, self.b2b_list))
        self.assertFalse(self._member(self.buyer.email, self.b2c_list))
        self.assertTrue(self._member(self.customer.email, self.b2c_list))
        self.assertFalse(self._member(self.customer.email, self.b2b_list))
        self.assertFalse(self._member(self.customer.email, AUDIENCE))

    def test_first_matching_rule_wins_and_unmatched_never_sync(self):
        vip_list = self._create_audience("VIP")
        self.mailchimp.write(
            {
                "audience_rule_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "VIP",
                            "sequence": 1,
                            "list_id": vip_list,
                            "category_ids": [(6, 0, self.vip_tag.ids)],
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "name": "B2C",
                            "sequence": 5,
                            "company_type": "b2c",
                            "list_id": AUDIENCE,
                        },
                    ),
                ]
            }
        )
        self.buyer.write({"category_id": [(6, 0, self.vip_tag.ids)]})
        self.customer.write({"category_id": [(6, 0, self.vip_tag.ids)]})
        other = self.env["res.partner"].create(
            {
                "name": "Olga Other",
                "email": "olga@example.com",
                "customer_rank": 1,
                "parent_id": self.acme.id,
            }
        )
        self._run_jobs()
        self.assertTrue(self._member(self.customer.email, vip_list))
        self.assertFalse(self._member(self.customer.email, AUDIENCE), "first rule")
        member = self._member(self.buyer.email, vip_list)
        self.assertEqual([t["name"] for t in member["tags"]], ["VIP"])
        self.assertFalse(self._events(other), "a B2B contact without the tag")
        self.assertFalse(self._member(other.email, vip_list))
        self.assertFalse(self._member(other.email, AUDIENCE))

    def test_orders_go_to_the_store_of_the_partner_audience(self):
        self._routing()
        self.mailchimp.action_mailchimp_setup_store()
        store = self._store("store-b2c")["store"]
        self.assertEqual(store["list_id"], self.b2c_list)
        self.assertEqual(store["currency_code"], self.company.currency_id.name)
        self.assertIsNone(self._store("store-a"), "no store without rule store")
        b2c_order = self._order(partner=self.customer)
        b2b_order = self._order(partner=self.buyer)
        self._run_jobs()
        store_orders = self._store("store-b2c")["orders"]
        self.assertIn(str(b2c_order.id), store_orders)
        self.assertNotIn(str(b2b_order.id), store_orders)
        skipped = self.events.search(
            [("res_model", "=", "sale.order"), ("res_id", "=", b2b_order.id)]
        )
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("no store", skipped.note)
        self.assertFalse(self._calls(contains="/ecommerce/stores/store-a"))

    def test_company_a_never_reaches_company_b_audience(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        list_b = self._create_audience("Company B")
        backend_b = self._mailchimp_backend(company_b, MAILCHIMP_KEY, list_b, "store-b")
        backend_b.write(
            {"audience_rule_ids": [(0, 0, {"name": "All", "list_id": list_b})]}
        )
        self.mailchimp.write(
            {"audience_rule_ids": [(0, 0, {"name": "All", "list_id": AUDIENCE})]}
        )
        partner_b = self.env["res.partner"].create(
            {
                "name": "Bea B",
                "email": "bea@example.com",
                "customer_rank": 1,
                "company_id": company_b.id,
            }
        )
        self.customer.write({"company_id": self.company.id, "city": "York"})
        self._run_jobs()
        self.assertTrue(self._member(self.customer.email, AUDIENCE))
        self.assertFalse(self._member(self.customer.email, list_b))
        self.assertTrue(self._member(partner_b.email, list_b))
        self.assertFalse(self._member(partner_b.email, AUDIENCE))
        with self.assertRaises(ValidationError):
            backend_b.write(
                {"audience_rule_ids": [(0, 0, {"name": "Steal", "list_id": AUDIENCE})]}
            )

    def test_partners_sharing_an_email_are_one_member(self):
        twin = self.env["res.partner"].create(
            {
                "name": "Ann C.",
                "email": "ANN.customer@example.com",
                "customer_rank": 1,
            }
        )
        (self.customer | twin).write({"city": "York"})
        self._run_jobs()
        hashes = {r["path"].rsplit("/", 1)[1] for r in self._member_puts()}
        self.assertEqual(hashes, {subscriber_hash("ann.customer@example.com")})
        members = self.sandbox.state("mailchimp", MAILCHIMP_KEY)["members"][AUDIENCE]
        self.assertEqual(len(members), 1)

    def test_unusable_email_is_a_data_exception_before_any_call(self):
        broken = self.env["res.partner"].create(
            {"name": "Broken", "email": "broken@@example", "customer_rank": 1}
        )
        nomail = self.env["res.partner"].create({"name": "No Mail", "customer_rank": 1})
        nomail.write({"city": "Hull"})
        self._run_jobs()
        self.assertFalse(self._events(nomail), "no email: nothing to sync")
        event = self._events(broken)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_id.category, "data")
        self.assertEqual(event.exception_id.team, "marketing")
        self.assertEqual(event.exception_id.field, "email")
        self.assertFalse(self._calls(), "Mailchimp was never called")

    def test_every_audience_reports_unsubscribes(self):
        self._routing()
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", "http://127.0.0.1:9"
        )
        self.mailchimp.action_mailchimp_register_webhook()
        hooks = self.sandbox.state("mailchimp", MAILCHIMP_KEY)["webhooks"]
        for list_id in (AUDIENCE, self.b2b_list, self.b2c_list):
            (hook,) = hooks[list_id].values()
            self.assertTrue(
                hook["url"].startswith(
                    f"http://127.0.0.1:9/esp_sync/webhook/{self.mailchimp.id}/"
                )
            )
        self.mailchimp.action_mailchimp_register_webhook()  # again: no error
        form = {
            "type": "unsubscribe",
            "fired_at": "2026-11-22 10:00:00",
            "data[list_id]": self.b2b_list,
            "data[email]": self.buyer.email,
        }
        (update,) = self.mailchimp._esp_webhook_updates({}, form)
        self.assertEqual(
            (update.email, update.status), (self.buyer.email, "unsubscribed")
        )
        stranger = dict(form, **{"data[list_id]": "notours"})
        self.assertEqual(self.mailchimp._esp_webhook_updates({}, stranger), [])
        # Polling reads every audience too.
        self.buyer.write({"city": "York"})
        self._run_jobs()
        self.sandbox.action(
            "mailchimp", "unsubscribe", email=self.buyer.email, list_id=self.b2b_list
        )
        self.mailchimp.last_consent_poll_at = "2020-01-01 00:00:00"
        self.assertIn("1 partners updated", self.mailchimp._esp_poll_consent())
        self.assertTrue(self.buyer.is_blacklisted)

    def test_bulk_work_is_split_by_audience(self):
        self._routing()
        adapter = self.mailchimp._esp_adapter()
        rules = self.env["esp.audience.rule"]
        groups = rules._esp_audience_groups(
            self.mailchimp, adapter, self.customer | self.buyer | self.acme
        )
        by_list = {a.settings.mailchimp_list_id: p for a, p in groups}
        self.assertEqual(by_list[self.b2b_list], self.buyer | self.acme)
        self.assertEqual(by_list[self.b2c_list], self.customer)
        self.assertEqual(len(groups), 2)

    def test_opt_in_creates_new_members_subscribed_never_existing_ones(self):
        lead = self.env["res.partner"].create(
            {"name": "Lena Lead", "email": "lena@example.com"}
        )
        self._run_jobs()
        self.assertFalse(self._member(lead.email), "no sale, no opt-in: not synced")
        lead.write({"esp_marketing_opt_in": True})
        self.customer.write({"city": "York"})
        self._run_jobs()
        self.assertEqual(self._member(lead.email)["status"], "subscribed")
        self.assertEqual(self._member(self.customer.email)["status"], "transactional")
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        put = self._member_puts()[-1]
        self.assertEqual(put["body"]["status_if_new"], "subscribed")
        self.assertNotIn("status", put["body"])
        self.assertEqual(
            self._member(self.customer.email)["status"],
            "transactional",
            "Mailchimp owns an existing member's status",
        )

    def test_a_partner_routed_elsewhere_moves_and_keeps_its_status(self):
        """B2C becomes B2B: the member moves to the B2B audience with the
        status it held (an unsubscribe made at Mailchimp, not heard of in
        Odoo yet, included) and is archived in the B2C one; never in both."""
        self._routing()
        ann = self.customer
        dora = self.env["res.partner"].create(
            {
                "name": "Dora Doe",
                "email": "dora@example.com",
                "customer_rank": 1,
                "esp_marketing_opt_in": True,
            }
        )
        (ann | dora).write({"city": "York"})
        self._run_jobs()
        self.assertEqual(
            self._member(dora.email, self.b2c_list)["status"], "subscribed"
        )
        self.sandbox.action(
            "mailchimp",
            "unsubscribe",
            email=ann.email_normalized,
            list_id=self.b2c_list,
            account=MAILCHIMP_KEY,
        )
        (ann | dora).write({"parent_id": self.acme.id})
        self._run_jobs()
        for partner, status in ((ann, "unsubscribed"), (dora, "subscribed")):
            moved = self._member(partner.email, self.b2b_list)
            self.assertEqual(moved["status"], status, partner.name)
            self.assertEqual(
                self._member(partner.email, self.b2c_list)["status"], "archived"
            )
            binding = self.env["esp.sync.binding"].search(
                [
                    ("backend_id", "=", self.mailchimp.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("stream", "=", "profile"),
                ]
            )
            self.assertEqual(binding.audience_id, self.b2b_list)
        # A later edit stays in the new audience: no second move.
        mark = len(self._calls())
        ann.write({"city": "Hull"})
        self._run_jobs()
        self.assertFalse(
            [r for r in self._calls()[mark:] if r["method"] == "DELETE"],
            "nothing archived again",
        )
        self.assertEqual(
            self._member(ann.email, self.b2b_list)["status"], "unsubscribed"
        )
