# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo records -> jobs -> KlaviyoAdapter -> the local Klaviyo sandbox.

The sandbox validates every request against Klaviyo's OpenAPI document (a
400 would surface as a sync exception), de-duplicates events on
``unique_id`` like Klaviyo, and fires signed webhooks back to Odoo.
"""

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from ..providers import EspError
from .common import EspSyncCase, use_shared_specs

KEY = "pk_sandbox_odoo_e2e"
UNSUBSCRIBED = "event:klaviyo.unsubscribed_from_email_marketing"


@tagged("post_install", "-at_install")
class TestKlaviyoSandbox(EspSyncCase, HttpCase):
    """Drive real Odoo records and assert what Klaviyo (the sandbox) got."""

    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True, providers=["klaviyo"]).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.write(
            {
                "base_url": cls.sb.url + "/klaviyo",
                "api_key": KEY,
                "sync_catalog": True,
                "catalog_mode": "realtime",
            }
        )
        cls.email = "ann.customer@example.com"
        cls.stock = (
            cls.env["stock.warehouse"]
            .search([("company_id", "=", cls.company.id)], limit=1)
            .lot_stock_id
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        answer = self.backend._esp_adapter()._request(
            "POST",
            "/api/lists",
            json={"data": {"type": "list", "attributes": {"name": "Newsletter"}}},
        )
        self.backend.klaviyo_list_id = answer["data"]["id"]

    # ------------------------------------------------------------- helpers
    def _state(self):
        return self.sb.state("klaviyo")[KEY]

    def _profile(self, email=None):
        email = email or self.email
        profiles = self._state()["profiles"].values()
        return next((p for p in profiles if p["email"] == email), None)

    def _events(self):
        """(metric, OrderId, value, unique_id, properties) in arrival order."""
        return [
            (
                e["metric"],
                e["properties"].get("OrderId"),
                e["value"],
                e["unique_id"],
                e["properties"],
            )
            for e in self._state()["events"]
        ]

    def _mark(self):
        log = self.sb.requests("klaviyo")
        return log[-1]["id"] if log else 0

    def _since(self, mark):
        return [(r["method"], r["path"]) for r in self.sb.requests("klaviyo", mark)]

    def _unique_id(self, record, event_type):
        dbuuid = self.env["ir.config_parameter"].get_param("database.uuid")
        return f"odoo-{dbuuid[:8]}-{record._name}:{record.id}:{event_type}"

    def _assert_clean(self):
        """No sync exception, nothing pending or failed: every payload was valid."""
        exceptions = self.env["esp.sync.exception"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertFalse(exceptions, exceptions.mapped("message"))
        ledger = self.events.search([("backend_id", "=", self.backend.id)])
        self.assertTrue(ledger)
        self.assertEqual(set(ledger.mapped("state")) - {"sent", "skipped"}, set())
        refused = [
            (r["method"], r["path"], r["status"])
            for r in self.sb.requests("klaviyo")
            if r["status"] >= 400
            # Creating a catalogue entry that exists: the adapter then updates it.
            and not (r["status"] == 409 and r["path"].startswith("/api/catalog-"))
        ]
        self.assertFalse(refused, "the sandbox refused a request")

    def _return(self, picking, quantity):
        wizard = self.env["stock.return.picking"].create({"picking_id": picking.id})
        wizard.product_return_moves.quantity = quantity
        action = wizard.action_create_returns()
        return self._deliver(self.env["stock.picking"].browse(action["res_id"]))

    def test_the_sandbox_validates_against_the_spec(self):
        adapter = self.backend._esp_adapter()
        with self.assertRaises(EspError) as caught:
            adapter._request(
                "POST",
                "/api/events",
                json={"data": {"type": "event", "attributes": {"value": "x"}}},
            )
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.category.value, "data")

    # --------------------------------------------------------------- orders
    def test_order_lifecycle_reaches_klaviyo_once_and_in_order(self):
        order = self._order(qty=3)
        shipment = order.picking_ids
        self._deliver(shipment, qty=1)  # partial: a backorder keeps two
        backorder = order.picking_ids - shipment
        self.assertEqual(backorder.move_ids.product_uom_qty, 2.0)
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        returned = self._return(shipment, 1)
        other = self._order(qty=1)
        other.with_context(disable_cancel_warning=True).action_cancel()
        self.assertEqual(other.state, "cancel")
        self._run_jobs()
        self._assert_clean()

        events = self._events()
        mine = [e for e in events if e[1] == str(order.id)]
        self.assertEqual(mine[0][0], "Placed Order", "nothing before Placed")
        self.assertEqual(mine[1][0], "Ordered Product")
        metrics = [e[0] for e in mine]
        self.assertCountEqual(
            metrics,
            [
                "Placed Order",
                "Ordered Product",
                "Fulfilled Order",
                "Refunded Order",
                "Returned Items",
            ],
        )
        self.assertLess(
            metrics.index("Fulfilled Order"), metrics.index("Returned Items")
        )
        by_metric = {e[0]: e for e in mine}
        placed = by_metric["Placed Order"]
        self.assertEqual(placed[2], 300.0)
        self.assertEqual(placed[3], self._unique_id(order, "order_placed"))
        self.assertEqual(placed[4]["OrderName"], order.name)
        line = order.order_line
        self.assertEqual(
            by_metric["Ordered Product"][3],
            f"{self._unique_id(order, 'order_placed')}:{line.id}",
        )
        fulfilled = by_metric["Fulfilled Order"]
        self.assertEqual(fulfilled[2], 100.0, "one of three shipped")
        self.assertEqual([i["Quantity"] for i in fulfilled[4]["Items"]], [1.0])
        self.assertEqual(fulfilled[4]["Reference"], shipment.name)
        self.assertEqual(fulfilled[3], self._unique_id(shipment, "order_fulfilled"))
        refunded = by_metric["Refunded Order"]
        self.assertEqual(refunded[2], 100.0, "the refunded amount only")
        self.assertEqual(refunded[4]["Reference"], refund.name)
        self.assertEqual(refunded[3], self._unique_id(refund, "order_refunded"))
        self.assertEqual(
            by_metric["Returned Items"][3],
            self._unique_id(returned, "order_returned"),
        )
        self.assertEqual(
            [e[0] for e in events if e[1] == str(other.id)],
            ["Placed Order", "Ordered Product", "Cancelled Order"],
        )
        self.assertFalse(
            [e for e in events if e[4].get("Reference") == backorder.name],
            "the backorder was not shipped",
        )

        properties = self._profile()["properties"]
        self.assertEqual(properties["Order Count"], 1, "the cancelled order is out")
        self.assertEqual(properties["Total Spend"], 200.0, "net of the refund")
        self.assertEqual(properties["Total Refunded"], 100.0)
        self.assertTrue(properties["Recently Returned"])
        for name in ("First Order Date", "Last Order Date", "Last Refund Date"):
            self.assertTrue(properties[name], name)
        self.assertTrue(properties["Last Return Date"])
        self.assertEqual(
            self._profile()["external_id"], f"odoo-{self.company.id}-{self.customer.id}"
        )

        # Repeats send nothing new: jobs re-run, transitions captured again.
        ledger_before = self.events.search_count([])
        mark = self._mark()
        self._run_jobs()
        order._esp_capture("order_placed")
        shipment._esp_capture("order_fulfilled")
        refund._esp_capture("order_refunded")
        order._esp_sync_now()
        self._run_jobs()
        self.assertEqual(self.events.search_count([]), ledger_before)
        self.assertEqual(self._since(mark), [], "nothing reached Klaviyo again")
        # Even a forced resend of every order event stores nothing twice.
        count = len(events)
        self.events.search(
            [("backend_id", "=", self.backend.id), ("res_model", "!=", "res.partner")]
        ).action_retry()
        self._run_jobs()
        self.assertGreater(len(self._since(mark)), 0, "the resend did go out")
        self.assertEqual(len(self._events()), count, "Klaviyo de-duplicated it")
        self._assert_clean()

    # -------------------------------------------------------------- consent
    def test_consent_both_ways(self):
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        email = self._profile()["subscriptions"]["email"]
        self.assertEqual(email["consent"], "SUBSCRIBED")
        self.assertIn(self.backend.klaviyo_list_id, self._profile()["lists"])
        self.customer.write({"esp_marketing_opt_in": False})
        self._run_jobs()
        self.assertEqual(
            self._profile()["subscriptions"]["email"]["consent"], "UNSUBSCRIBED"
        )
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(
            self._profile()["subscriptions"]["email"]["consent"], "SUBSCRIBED"
        )
        self._assert_clean()

        # Klaviyo -> Odoo by signed webhook: the person unsubscribes there.
        adapter = self.backend._esp_adapter()
        url = (
            f"{self.base_url()}/esp_sync/webhook/"
            f"{self.backend.id}/{self.backend.webhook_secret}"
        )
        adapter._request(
            "POST",
            "/api/webhooks",
            json={
                "data": {
                    "type": "webhook",
                    "attributes": {
                        "name": "Odoo",
                        "endpoint_url": url,
                        "secret_key": self.backend.webhook_signing_secret,
                    },
                    "relationships": {
                        "webhook-topics": {
                            "data": [{"type": "webhook-topic", "id": UNSUBSCRIBED}]
                        }
                    },
                }
            },
        )
        self.env.flush_all()  # the webhook request runs in the server thread
        self.sb.action("klaviyo", "unsubscribe", email=self.email, account=KEY)
        self.assertTrue(self.sb.wait_webhooks(15))
        self.assertEqual([w["status"] for w in self.sb.webhooks()], [200])
        self.env.invalidate_all()
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", self.email)]))
        self.assertFalse(self.customer.esp_marketing_opt_in)
        # A later Odoo sync, even an opt-in ticked again, never resubscribes.
        mark = self._mark()
        self.customer.write({"city": "York", "esp_marketing_opt_in": True})
        self._run_jobs()
        paths = [path for _method, path in self._since(mark)]
        self.assertIn("/api/profile-import", paths)
        self.assertNotIn("/api/profile-subscription-bulk-create-jobs", paths)
        self.assertNotEqual(
            self._profile()["subscriptions"]["email"]["consent"], "SUBSCRIBED"
        )

        # Klaviyo -> Odoo by polling: a hard bounce has no webhook here.
        bob = self.env["res.partner"].create(
            {"name": "Bob Buyer", "email": "bob@example.com", "customer_rank": 1}
        )
        bob.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.sb.action(
            "klaviyo", "suppress", email="bob@example.com", reason="HARD_BOUNCE"
        )
        result = self.backend._esp_poll_consent()
        # Bob, and Ann whose opt-in ticked again is cleared (she is blacklisted).
        self.assertIn("2 partners updated", result)
        self.env.invalidate_all()
        self.assertTrue(
            self.env["mail.blacklist"].search([("email", "=", "bob@example.com")])
        )
        self.assertFalse(bob.esp_marketing_opt_in)
        # Klaviyo was last told "subscribed": it hears the opt-out back (a
        # subscribe racing the bounce must not stay), and that echo is not
        # a new decision at the next poll.
        self._run_jobs()
        self.assertTrue(
            self._profile("bob@example.com")["subscriptions"]["email"]["suppression"]
        )
        self.assertIn("0 partners updated", self.backend._esp_poll_consent())
        self._assert_clean()

    def test_opt_in_never_overwrites_an_opt_out_odoo_has_not_heard_of(self):
        """The person unsubscribed at Klaviyo (webhook lost, poll not run
        yet) and staff tick the opt-in again: Klaviyo is read first, the
        opt-out wins in Odoo and nobody is subscribed."""
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(
            self._profile()["subscriptions"]["email"]["consent"], "SUBSCRIBED"
        )
        self.sb.action("klaviyo", "unsubscribe", email=self.email, account=KEY)
        self.customer.write({"esp_marketing_opt_in": False})
        self.customer.write({"esp_marketing_opt_in": True})
        mark = self._mark()
        self._run_jobs()
        paths = [path for _method, path in self._since(mark)]
        self.assertNotIn("/api/profile-subscription-bulk-create-jobs", paths)
        self.assertNotEqual(
            self._profile()["subscriptions"]["email"]["consent"], "SUBSCRIBED"
        )
        self.env.invalidate_all()
        self.assertTrue(self.customer._esp_is_blacklisted())
        self.assertFalse(self.customer.esp_marketing_opt_in)
        self._assert_clean()

    def test_lifting_a_suppression_never_brings_back_a_subscription(self):
        """Subscribed, then blacklisted (suppressed), then the opt-in cleared
        and the blacklist entry removed: the suppression goes and the
        person stays unsubscribed (seen in the full soak: the old
        subscription came back with the lift)."""
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        blacklist = self.env["mail.blacklist"]
        blacklist._add(self.email)
        self._run_jobs()
        self.assertTrue(self._profile()["subscriptions"]["email"]["suppression"])
        self.customer.write({"esp_marketing_opt_in": False})
        blacklist._remove(self.email)
        self._run_jobs()
        email = self._profile()["subscriptions"]["email"]
        reasons = [entry["reason"] for entry in email["suppression"]]
        self.assertNotIn("USER_SUPPRESSED", reasons, "the suppression is lifted")
        self.assertNotEqual(email["consent"], "SUBSCRIBED")
        binding = self.env["esp.sync.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_id", "=", self.customer.id),
                ("stream", "=", "consent"),
            ]
        )
        self.assertTrue(binding.suppression_lifted_at)
        self._assert_clean()

    def test_erasure_forgets_the_person_and_nothing_recreates_them(self):
        """Forget in email platforms: one deletion request per backend that
        knew the person, none for the others; then edits and orders send
        nothing; the audit keeps a keyed hash, never the address."""
        other = self._other_company_backend()
        self.customer.write({"esp_marketing_opt_in": True, "city": "York"})
        self._order(qty=1)
        self._run_jobs()
        self.assertTrue(self._profile())
        self.customer.action_esp_erase()
        erasures = self._ledger(event_type="erasure")
        self.assertEqual(erasures.backend_id, self.backend, "only who knew her")
        self._run_jobs()
        self.assertIsNone(self._profile(), "gone at Klaviyo")
        self.assertEqual(erasures.state, "sent")
        self.assertFalse(erasures.old_email, "the ledger forgets the address")
        self.assertEqual(
            set(
                self._ledger(res_model="res.partner", res_id=self.customer.id).mapped(
                    "record_name"
                )
            ),
            {"(erased)"},
        )
        audit = self.env["esp.erasure.log"].search([])
        self.assertEqual(audit.mapped("outcome"), ["done", "requested"])
        self.assertNotIn(self.email, audit.mapped("email_hash"))
        self.assertEqual(len(set(audit.mapped("email_hash"))), 1)
        self.assertFalse(
            self.env["esp.sync.binding"].search(
                [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
            )
        )
        # Nothing recreates her: an edit, a new order, a blacklist change.
        ledger = self.events.search_count([])
        self.customer.write({"city": "Hull", "esp_marketing_opt_in": False})
        self._order(qty=1)
        self.env["mail.blacklist"]._add(self.email)
        self.assertEqual(self.events.search_count([]), ledger)
        self._run_jobs()
        self.assertIsNone(self._profile())
        self.assertFalse(other.id in erasures.backend_id.ids)

    # ------------------------------------------------------- catalogue, stock
    def _variant(self, product):
        variants = self._state()["catalog_variants"]
        return variants[f"$custom:::$default:::{product.id}"]

    def test_catalogue_and_stock_deltas(self):
        template = self.env["product.template"].create(
            {
                "name": "Camp Stove",
                "type": "consu",
                "is_storable": True,
                "list_price": 80.0,
                "default_code": "STOVE",
                "description_sale": "Two burners",
                "taxes_id": [(5, 0, 0)],
            }
        )
        stove = template.product_variant_id
        self._set_stock(stove, 5)
        self._run_jobs()
        self._assert_clean()
        item = self._state()["catalog_items"][f"$custom:::$default:::{template.id}"]
        self.assertEqual(
            (item["title"], item["price"], item["description"]),
            ("Camp Stove", 80.0, "Two burners"),
        )
        self.assertTrue(item["url"].startswith("http"))
        self.assertEqual(self._variant(stove)["inventory_quantity"], 5.0)
        self.assertEqual(self._variant(stove)["sku"], "STOVE")

        # A sale shipped from stock: one inventory delta, for this variant only.
        mark = self._mark()
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [(0, 0, {"product_id": stove.id, "product_uom_qty": 2})],
            }
        )
        order.action_confirm()
        self._deliver(order.picking_ids)
        self._run_jobs()
        catalogue_calls = [
            (method, path) for method, path in self._since(mark) if "catalog" in path
        ]
        self.assertEqual(
            catalogue_calls,
            [("PATCH", f"/api/catalog-variants/$custom:::$default:::{stove.id}")],
        )
        self.assertEqual(self._variant(stove)["inventory_quantity"], 3.0)

        # A price change updates the item; an unchanged one sends nothing.
        template.write({"list_price": 85.0})
        self._run_jobs()
        item = self._state()["catalog_items"][f"$custom:::$default:::{template.id}"]
        self.assertEqual(item["price"], 85.0)
        self.assertEqual(self._variant(stove)["price"], 85.0)
        mark = self._mark()
        template.write({"list_price": 85.0, "name": "Camp Stove"})
        self._run_jobs()
        self.assertEqual(self._since(mark), [])

        # Sold out, a shopper asks to be told, the goods come back: it fires.
        self._set_stock(stove, 0)
        self._run_jobs()
        self.assertEqual(self._variant(stove)["inventory_quantity"], 0.0)
        self.backend._esp_adapter()._request(
            "POST",
            "/api/back-in-stock-subscriptions",
            json={
                "data": {
                    "type": "back-in-stock-subscription",
                    "attributes": {
                        "channels": ["EMAIL"],
                        "profile": {
                            "data": {
                                "type": "profile",
                                "attributes": {"email": "shopper@example.com"},
                            }
                        },
                    },
                    "relationships": {
                        "variant": {
                            "data": {
                                "type": "catalog-variant",
                                "id": f"$custom:::$default:::{stove.id}",
                            }
                        }
                    },
                }
            },
        )
        (waiting,) = self._state()["bis"]
        self.assertIsNone(waiting["notified"])
        self._set_stock(stove, 4)
        self._run_jobs()
        self.assertEqual(self._variant(stove)["inventory_quantity"], 4.0)
        self.assertIsNotNone(self._state()["bis"][0]["notified"], "back in stock")
        self._assert_clean()

    def test_available_to_promise_and_back_in_stock_overtakes(self):
        """What a customer can buy: a confirmed order reserving the last two
        units makes it 0 before anything ships; its cancellation makes it 2
        again, and that back-in-stock update travels on the urgent lane."""
        template = self.env["product.template"].create(
            {
                "name": "Tent",
                "type": "consu",
                "is_storable": True,
                "list_price": 200.0,
                "taxes_id": [(5, 0, 0)],
            }
        )
        tent = template.product_variant_id
        self._set_stock(tent, 2)
        self._run_jobs()
        self.assertEqual(self._variant(tent)["inventory_quantity"], 2.0)
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [(0, 0, {"product_id": tent.id, "product_uom_qty": 2})],
            }
        )
        order.action_confirm()
        self.assertEqual(order.picking_ids.state, "assigned")
        self._run_jobs()
        self.assertEqual(
            self._variant(tent)["inventory_quantity"], 0.0, "reserved: not buyable"
        )
        self.assertEqual(tent.qty_available, 2.0, "still on the shelf")
        mark = self.events.search([], order="id desc", limit=1).id
        order._action_cancel()
        rows = self.events.search(
            [
                ("id", ">", mark),
                ("event_type", "=", "inventory"),
                ("res_id", "=", tent.id),
            ]
        )
        self.assertTrue(rows)
        self.assertEqual(set(rows.mapped("priority")), {5}, "back in stock: urgent")
        self._run_jobs()
        self.assertEqual(self._variant(tent)["inventory_quantity"], 2.0)
        self._assert_clean()

    def test_back_in_stock_request_for_a_customer(self):
        """Sales staff (or a web shop over RPC) register a customer for a
        variant's back-in-stock alert: queued, then in Klaviyo's list."""
        template = self.env["product.template"].create(
            {"name": "Lantern", "type": "consu", "is_storable": True}
        )
        lantern = template.product_variant_id
        self._run_jobs()  # the catalogue item first
        seller = self.env["res.users"].create(
            {
                "name": "Seller",
                "login": "bis_seller",
                "groups_id": [
                    (6, 0, [self.env.ref("sales_team.group_sale_salesman").id])
                ],
            }
        )
        wizard = (
            self.env["esp.back.in.stock.wizard"]
            .with_user(seller)
            .create({"product_id": lantern.id, "partner_id": self.customer.id})
        )
        mark = self._mark()
        wizard.action_confirm()
        self.assertFalse(self._since(mark), "no HTTP in the user's transaction")
        self._run_jobs()
        (waiting,) = self._state()["bis"]
        self.assertEqual(waiting["variant_id"], f"$custom:::$default:::{lantern.id}")
        self.assertEqual(waiting["profile_id"], self._profile()["id"])
        ids = lantern.esp_subscribe_back_in_stock(self.customer.id)
        self.assertEqual(len(ids), 1)
        self._run_jobs()
        self.assertEqual(len(self._state()["bis"]), 2, "the RPC path too")
        self._assert_clean()
        self.backend.sync_catalog = False
        with self.assertRaises(UserError):
            lantern.esp_subscribe_back_in_stock(self.customer.id)

    def test_catalogue_push_sends_every_product_with_progress(self):
        """Products made before the catalogue was switched on reach Klaviyo
        by a catalogue backfill, with its progress."""
        quiet = self.env["product.template"].with_context(esp_sync_no_capture=True)
        templates = quiet.create(
            [
                {"name": f"Old product {i}", "type": "consu", "list_price": 10.0 + i}
                for i in range(5)
            ]
        )
        run = self.env["esp.backfill"].create(
            {"backend_id": self.backend.id, "scope": "catalog"}
        )
        run.action_start()
        self.assertGreaterEqual(run.total_count, 5)
        self._run_jobs(rounds=20)
        self.assertEqual(run.state, "done", run.last_error)
        self.assertEqual(run.sent_count, run.total_count)
        self.assertEqual(run.progress, 100.0)
        items = self._state()["catalog_items"]
        for template in templates:
            item = items[f"$custom:::$default:::{template.id}"]
            self.assertEqual(item["title"], template.name)
        self._assert_clean()

    def _set_stock(self, product, quantity):
        self.env["stock.quant"].with_context(inventory_mode=True).create(
            {
                "product_id": product.id,
                "location_id": self.stock.id,
                "inventory_quantity": quantity,
            }
        ).action_apply_inventory()
