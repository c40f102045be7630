# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo records -> jobs -> DotdigitalAdapter -> the local Dotdigital sandbox.

The sandbox validates requests against Dotdigital's OpenAPI documents, keeps
contacts (email channel status, lists, data fields), the insight-data
collections and the suppression log its v2 ``*-since`` queries read.
"""

from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter

from .common import EspSyncCase, use_shared_specs

USER = "apiuser-sandbox-odoo@apiconnector.com"
PASSWORD = "sandbox-password"
BOOK = 1


@tagged("post_install", "-at_install")
class TestDotdigitalSandbox(EspSyncCase):
    """Drive real Odoo records and assert what Dotdigital (the sandbox) got."""

    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True, providers=["dotdigital"]).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.active = False  # the base class' Klaviyo backend
        cls.dd = cls.env["esp.backend"].create(
            {
                "name": "Dotdigital test",
                "provider": "dotdigital",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("dotdigital"),
                "api_user": USER,
                "api_secret": PASSWORD,
                "dotdigital_address_book_id": str(BOOK),
            }
        )
        cls.email = "ann.customer@example.com"

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0, log_bodies=True)
        # Data fields known per account are cached per process: forget them
        # with the sandbox state they described.
        dotdigital_adapter._fields_cache.clear()

    # ------------------------------------------------------------- helpers
    def _state(self):
        return self.sb.state("dotdigital", USER)

    def _contact(self, email=None):
        email = email or self.email
        contacts = self._state().get("contacts", {}).values()
        return next((c for c in contacts if c["identifiers"]["email"] == email), None)

    def _status(self, email=None):
        return self._contact(email)["channelProperties"]["email"]["status"]

    def _orders(self):
        """Orders collection records by record key (the Odoo order id)."""
        records = self._state().get("records", {}).values()
        return {r["key"]: r for r in records if "ownerContactId" in r}

    def _mark(self):
        log = self.sb.requests("dotdigital")
        return log[-1]["id"] if log else 0

    def _since(self, mark, method=None, contains=""):
        return [
            r
            for r in self.sb.requests("dotdigital", mark)
            if (method is None or r["method"] == method) and contains in r["path"]
        ]

    def _patches(self, mark, email):
        return [
            r["body"] for r in self._since(mark, "PATCH", f"/contacts/v3/email/{email}")
        ]

    def _blacklisted(self, email):
        return bool(self.env["mail.blacklist"].search([("email", "=", email)]))

    def _assert_clean(self, since=0):
        """No sync exception, nothing pending or failed, no request refused."""
        exceptions = self.env["esp.sync.exception"].search(
            [("backend_id", "=", self.dd.id), ("state", "=", "open")]
        )
        self.assertFalse(exceptions, exceptions.mapped("message"))
        ledger = self.events.search([("backend_id", "=", self.dd.id)])
        self.assertTrue(ledger)
        self.assertEqual(set(ledger.mapped("state")) - {"sent", "skipped"}, set())
        refused = [
            (r["method"], r["path"], r["status"], r["body"])
            for r in self.sb.requests("dotdigital", since)
            if r["status"] >= 400
            # Record for a contact or collection not there yet: created, retried.
            and not (r["status"] == 404 and r["path"].startswith("/insightData"))
            # Contact lookup before creating a new one.
            and not (r["status"] == 404 and r["method"] == "GET")
        ]
        self.assertFalse(refused, "the sandbox refused a request")

    # -------------------------------------------------------------- consent
    def test_odoo_masters_consent(self):
        # Ann never opted in: she is created in the neutral state, outside
        # the marketing address book (Dotdigital's default status), so a
        # later opt-in, even one imported in Dotdigital, is never blocked.
        self.customer.write({"city": "York"})
        bob = self.env["res.partner"].create(
            {"name": "Bob Buyer", "email": "bob@example.com", "customer_rank": 1}
        )
        self._run_jobs()
        self._assert_clean()
        contact = self._contact()
        self.assertFalse(contact["lists"], "outside the marketing address book")
        self.assertEqual(contact["dataFields"]["FIRSTNAME"], "Ann")
        self.assertFalse(self._contact("bob@example.com")["lists"])
        # Polling must not blacklist people who merely never opted in.
        self.assertIn("0 partners updated", self.dd._esp_poll_consent())
        self.assertFalse(self._blacklisted(self.email))
        self.assertFalse(self._blacklisted("bob@example.com"))

        # Ticking the opt-in subscribes her into the marketing address book,
        # single opt-in, no challenge.
        mark = self._mark()
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status(), "subscribed")
        self.assertEqual([book["id"] for book in self._contact()["lists"]], [BOOK])
        self.assertEqual(
            self._contact()["channelProperties"]["email"]["optInType"], "single"
        )
        (body,) = self._patches(mark, self.email)
        email = body["channelProperties"]["email"]
        self.assertEqual(email["status"], "subscribed")
        self.assertEqual(
            email["resubscribeOptions"]["resubscribeWithNoChallenge"], True
        )
        self.assertTrue(self.customer.esp_consent_date, "Odoo keeps the evidence")
        # Dotdigital's consentRecords need the visitor's URL, IP and user agent,
        # which Odoo does not hold: none is made up.
        self.assertNotIn("consentRecords", body)

        # Withdrawing it unsubscribes her; she may opt in again later.
        self.customer.write({"esp_marketing_opt_in": False})
        self._run_jobs()
        self.assertEqual(self._status(), "unsubscribed")
        self.assertIn("0 partners updated", self.dd._esp_poll_consent())
        self.assertFalse(self._blacklisted(self.email), "an echo is not news")
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status(), "subscribed")
        # The old unsubscribe, undone by the newer opt-in, is not news either.
        self.assertIn("0 partners updated", self.dd._esp_poll_consent())
        self.assertFalse(self._blacklisted(self.email))

        # Blacklisting her in Odoo suppresses her in Dotdigital.
        self.env["mail.blacklist"]._add(self.email)
        self._run_jobs()
        self.assertEqual(self._status(), "suppressed")
        self._assert_clean()

        # Dotdigital -> Odoo: Bob opted in, then bounced hard there.
        bob.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status("bob@example.com"), "subscribed")
        self.sb.action("dotdigital", "suppress", email="bob@example.com", account=USER)
        result = self.dd._esp_poll_consent()
        self.assertRegex(result, r"[1-9]\d* partners updated")
        self.env.invalidate_all()
        self.assertTrue(self._blacklisted("bob@example.com"))
        self.assertFalse(bob.esp_marketing_opt_in)
        self.assertIn("0 partners updated", self.dd._esp_poll_consent())
        # A later Odoo edit, even the opt-in ticked again, never resubscribes.
        mark = self._mark()
        bob.write({"city": "Hull", "esp_marketing_opt_in": True})
        self._run_jobs()
        bodies = self._patches(mark, "bob@example.com")
        self.assertTrue(bodies, "the profile edit did go out")
        self.assertNotIn(
            "subscribed",
            [
                (b.get("channelProperties") or {}).get("email", {}).get("status")
                for b in bodies
            ],
        )
        self.assertEqual(self._status("bob@example.com"), "suppressed")
        self._assert_clean()

    def test_never_opted_in_unsubscribed_when_the_backend_says_so(self):
        """The other never-opted-in state: unsubscribed (on the account's
        suppression list), which the poll must not read as an opt-out."""
        self.dd.dotdigital_never_opted_in = "unsubscribed"
        self.customer.write({"city": "York"})
        self._run_jobs()
        self._assert_clean()
        self.assertEqual(self._status(), "unsubscribed")
        self.assertFalse(self._contact()["lists"])
        self.assertIn("0 partners updated", self.dd._esp_poll_consent())
        self.assertFalse(self._blacklisted(self.email))
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status(), "subscribed")
        self.assertEqual([book["id"] for book in self._contact()["lists"]], [BOOK])

    def test_opt_in_never_overwrites_an_opt_out_odoo_has_not_heard_of(self):
        """Ann unsubscribed at Dotdigital (poll not run yet) and staff tick
        the opt-in again: Dotdigital is read first, the opt-out wins in Odoo
        and she is not resubscribed. A new contact, created neutral (outside
        the marketing address book), is subscribed when he opts in."""
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status(), "subscribed")
        self.sb.action("dotdigital", "unsubscribe", email=self.email, account=USER)
        self.customer.write({"esp_marketing_opt_in": False})
        self.customer.write({"esp_marketing_opt_in": True})
        mark = self._mark()
        self._run_jobs()
        statuses = [
            (b.get("channelProperties") or {}).get("email", {}).get("status")
            for b in self._patches(mark, self.email)
        ]
        self.assertNotIn("subscribed", statuses)
        # Odoo's blacklist is a suppression at Dotdigital: stronger, not less.
        self.assertIn(self._status(), ("unsubscribed", "suppressed"))
        self.env.invalidate_all()
        self.assertTrue(self._blacklisted(self.email))
        self.assertFalse(self.customer.esp_marketing_opt_in)

        # Bob: created neutral first, then opts in: that is no opt-out.
        bob = self.env["res.partner"].create(
            {"name": "Bob Buyer", "email": "bob@example.com", "customer_rank": 1}
        )
        self._run_jobs()
        self.assertFalse(self._contact("bob@example.com")["lists"])
        bob.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._status("bob@example.com"), "subscribed")
        bob_books = [book["id"] for book in self._contact("bob@example.com")["lists"]]
        self.assertEqual(bob_books, [BOOK])
        self.assertFalse(self._blacklisted("bob@example.com"))
        self._assert_clean()

    # --------------------------------------------------------------- orders
    def test_order_lifecycle_in_the_orders_collection(self):
        order = self._order(qty=3)
        self._run_jobs()
        key = str(order.id)
        self.assertEqual(self._orders()[key]["json"]["status"], "placed")
        self._deliver(order.picking_ids)
        self._run_jobs()
        shipped = self._orders()[key]["json"]
        self.assertEqual(shipped["status"], "fulfilled")
        self.assertEqual(shipped["fulfillmentStatus"], "shipped")
        self.assertEqual(shipped["orderTotal"], 300.0)
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        other = self._order(qty=1)
        other.with_context(disable_cancel_warning=True).action_cancel()
        self.assertEqual(other.state, "cancel")
        self._run_jobs()
        self._assert_clean()

        self.assertIn("Orders", self._state()["collections"])
        records = self._orders()
        self.assertEqual(set(records), {str(order.id), str(other.id)})
        owner = self._contact()["contactId"]
        self.assertEqual(records[str(order.id)]["ownerContactId"], owner)
        placed = records[str(order.id)]["json"]
        self.assertEqual(placed["status"], "partially refunded")
        self.assertEqual(placed["name"], order.name)
        self.assertEqual(placed["grossTotal"], 300.0)
        self.assertEqual(placed["refundedTotal"], 100.0)
        self.assertEqual(placed["orderTotal"], 200.0, "net of the refund")
        self.assertEqual([p["qty"] for p in placed["products"]], [3.0])
        cancelled = records[str(other.id)]["json"]
        self.assertEqual(cancelled["status"], "cancelled")
        fields = self._contact()["dataFields"]
        self.assertEqual(fields["ORDER_COUNT"], "1", "the cancelled order is out")
        self.assertEqual(float(fields["TOTAL_SPEND"]), 200.0, "net of the refund")
        self.assertEqual(float(fields["TOTAL_REFUNDED"]), 100.0)
        # A buyer who never opted in never joins the marketing address book.
        self.assertFalse(self._contact()["lists"])

        # Repeats store nothing new: jobs re-run, transitions captured again.
        ledger_before = self.events.search_count([])
        mark = self._mark()
        self._run_jobs()
        order._esp_capture("order_placed")
        order.picking_ids._esp_capture("order_fulfilled")
        refund._esp_capture("order_refunded")
        self._run_jobs()
        self.assertEqual(self.events.search_count([]), ledger_before)
        self.assertEqual(self._since(mark), [], "nothing reached Dotdigital again")
        # A forced resend upserts the same records, keyed by order id.
        self.events.search(
            [("backend_id", "=", self.dd.id), ("res_model", "!=", "res.partner")]
        ).action_retry()
        self._run_jobs()
        self.assertTrue(self._since(mark, "PUT", "/insightData/"))
        self.assertEqual(set(self._orders()), {str(order.id), str(other.id)})
        self.assertEqual(self._orders()[str(order.id)]["json"], placed)
        self._assert_clean()

    # -------------------------------------------------- shared account
    def test_companies_sharing_an_account_merge_never_overwrite(self):
        """Two companies, one Dotdigital account: one contact whose figures
        are the sum of both, each company's own kept apart; whichever
        company writes last, the other's figures stay."""
        brand_b = self.env["res.company"].create({"name": "Brand B"})
        dd_b = self.env["esp.backend"].create(
            {
                "name": "Dotdigital B",
                "provider": "dotdigital",
                "company_id": brand_b.id,
                "base_url": self.sb.base_url("dotdigital"),
                "api_user": USER,
                "api_secret": PASSWORD,
                "dotdigital_address_book_id": str(BOOK),
            }
        )
        self.dd.write(
            {"dotdigital_shared_account": True, "dotdigital_company_code": "A"}
        )
        dd_b.write({"dotdigital_shared_account": True, "dotdigital_company_code": "B"})
        self.customer.company_id = False  # a customer of both companies
        self._order(qty=3.0)  # 300 in company A
        order_b = (
            self.env["sale.order"]
            .with_company(brand_b)
            .create(
                {
                    "partner_id": self.customer.id,
                    "company_id": brand_b.id,
                    "order_line": [
                        (0, 0, {"product_id": self.product.id, "price_unit": 50.0})
                    ],
                }
            )
        )
        order_b.action_confirm()
        self._run_jobs()
        for backend in (self.dd, dd_b, self.dd):  # each writes; last wins nothing
            self.customer._esp_sync_now(backend)
            self._run_jobs()
            fields = self._contact()["dataFields"]
            self.assertEqual(fields["ORDER_COUNT"], "2", backend.name)
            self.assertEqual(float(fields["TOTAL_SPEND"]), 350.0)
            self.assertEqual(fields["A_ORDER_COUNT"], "1")
            self.assertEqual(float(fields["A_TOTAL_SPEND"]), 300.0)
            self.assertEqual(fields["B_ORDER_COUNT"], "1")
            self.assertEqual(float(fields["B_TOTAL_SPEND"]), 50.0)
        contacts = [
            c
            for c in self._state()["contacts"].values()
            if c["identifiers"]["email"] == self.email
        ]
        self.assertEqual(len(contacts), 1, "one contact per email")
        self._assert_clean()

        # The option off (one account per company): each its own figures.
        (self.dd | dd_b).write({"dotdigital_shared_account": False})
        values = self.env["esp.sync.values"]
        own = values._esp_commerce_properties(dd_b, [self.email])[self.email]
        self.assertEqual((own["Order Count"], own["Total Spend"]), (1, 50.0))
        self.assertNotIn("B Order Count", own)

    # ------------------------------------------------------- mapped fields
    def test_mapped_fields_arrive_as_data_fields(self):
        tags = self.env["res.partner.category"].create(
            [{"name": "VIP"}, {"name": "Wholesale"}]
        )
        self.env["esp.field.mapping"].create(
            [
                {
                    "backend_id": self.dd.id,
                    "field_path": "category_id",
                    "esp_property": "Tags",
                    "transform": "tag_names",
                },
                {
                    "backend_id": self.dd.id,
                    "field_path": "category_id",
                    "esp_property": "Is Tagged",
                    "transform": "boolean",
                },
            ]
        )
        self.customer.write({"category_id": [(6, 0, tags.ids)]})
        self._run_jobs()
        self._assert_clean()
        self.assertIn("TAGS", self._state()["data_fields"])
        fields = self._contact()["dataFields"]
        self.assertEqual(fields["TAGS"], "VIP, Wholesale")
        self.assertEqual(fields["IS_TAGGED"], "Yes")
        # A tag removed in Odoo is removed in Dotdigital.
        self.customer.write({"category_id": [(3, tags[0].id)]})
        self._run_jobs()
        self.assertEqual(self._contact()["dataFields"]["TAGS"], "Wholesale")
        # The last one too: the data field is emptied, not left stale.
        self.customer.write({"category_id": [(5, 0, 0)]})
        self._run_jobs()
        self.assertFalse(self._contact()["dataFields"]["TAGS"])
        self.assertEqual(self._contact()["dataFields"]["IS_TAGGED"], "No")
        self._assert_clean()

    # --------------------------------------------------- endpoint discovery
    def test_the_backend_learns_its_api_endpoint(self):
        self.assertFalse(self.dd.dotdigital_api_endpoint)
        self.customer.write({"city": "York"})
        self._run_jobs()
        self._assert_clean()
        self.assertEqual(
            self.dd.dotdigital_api_endpoint, self.sb.base_url("dotdigital")
        )
        # Later deliveries use it without asking account-info again.
        mark = self._mark()
        self.customer.write({"city": "Hull"})
        self._run_jobs()
        self.assertTrue(self._since(mark, "PATCH"))
        self.assertFalse(self._since(mark, contains="/v2/account-info"))

    # ----------------------------------------------------- authentication
    def test_wrong_password_is_it_and_loses_nothing(self):
        self.dd.api_secret = "not-the-password"
        self.customer.write({"city": "York"})
        order = self._order(qty=1)
        self._run_jobs()
        exceptions = self.env["esp.sync.exception"].search(
            [("backend_id", "=", self.dd.id), ("state", "=", "open")]
        )
        self.assertTrue(exceptions)
        self.assertEqual(set(exceptions.mapped("category")), {"authentication"})
        self.assertEqual(set(exceptions.mapped("team")), {"it"})
        for message in exceptions.mapped("message"):
            self.assertNotIn("not-the-password", message)
        self.assertEqual(self._state(), {}, "Dotdigital stored nothing")
        self.assertFalse(self.dd.dotdigital_api_endpoint)
        ledger = self.events.search([("backend_id", "=", self.dd.id)])
        self.assertNotIn("sent", ledger.mapped("state"))

        # IT fixes the password and retries: everything arrives.
        self.dd.api_secret = PASSWORD
        mark = self._mark()
        exceptions.action_retry()
        self._run_jobs()
        self._assert_clean(mark)
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(set(ledger.mapped("state")) - {"skipped"}, {"sent"})
        self.assertEqual(self._contact()["dataFields"]["FIRSTNAME"], "Ann")
        self.assertEqual(self._orders()[str(order.id)]["json"]["status"], "placed")
