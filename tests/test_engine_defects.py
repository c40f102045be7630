# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The defects seen on a real server (issue 8), each reproduced and fixed."""

import datetime

from odoo import fields
from odoo.tools import mute_logger

from ..providers import EspError
from ..providers.events import ConsentUpdate
from .common import EspSyncCase


class TestEngineDefects(EspSyncCase):
    """Deliveries go to a RecordingAdapter: what the engine asks, never HTTP."""

    def setUp(self):
        super().setUp()
        self.adapter = self._recorder()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = cls.env["res.users"].with_context(no_reset_password=True)
        cls.seller = users.create(
            {
                "name": "Plain Seller",
                "login": "plain_seller",
                "email": "seller@example.com",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("sales_team.group_sale_salesman").id,
                            cls.env.ref("base.group_partner_manager").id,
                        ],
                    )
                ],
            }
        )
        cls.storekeeper = users.create(
            {
                "name": "Plain Storekeeper",
                "login": "plain_store",
                "email": "store@example.com",
                "groups_id": [(6, 0, [cls.env.ref("stock.group_stock_user").id])],
            }
        )
        cls.accountant = users.create(
            {
                "name": "Plain Invoicing",
                "login": "plain_invoicing",
                "email": "invoicing@example.com",
                "groups_id": [
                    (6, 0, [cls.env.ref("account.group_account_invoice").id])
                ],
            }
        )

    def _types(self, **domain):
        return self._ledger(**domain).mapped("event_type")

    # ------------------------------------------------- capture as the system
    def test_plain_users_run_the_whole_lifecycle(self):
        """Sales, inventory and invoicing users without ESP rights (item 1)."""
        self.assertFalse(self.seller.has_group("esp_sync.group_esp_sync_user"))
        partner = (
            self.env["res.partner"]
            .with_user(self.seller)
            .create({"name": "Walk In", "email": "walk.in@example.com"})
        )
        partner.write({"phone": "+44 20 7946 0000"})
        order = self._order(partner=partner.sudo(), confirm=False)
        order.user_id = self.seller  # a salesman confirms their own orders
        order.with_user(self.seller).action_confirm()
        picking = order.picking_ids.with_user(self.storekeeper)
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        invoice = order._create_invoices()
        invoice.with_user(self.accountant).action_post()
        refund = invoice._reverse_moves()
        refund.with_user(self.accountant).action_post()
        types = set(self._types(backend_id=self.backend.id))
        self.assertTrue(
            {"profile", "order_placed", "order_fulfilled", "order_refunded"} <= types
        )
        self._run_jobs()
        self.assertFalse(
            self._ledger(state="pending", backend_id=self.backend.id), "all delivered"
        )

    # ------------------------------------------------------ truthful status
    def test_consent_success_never_resolves_a_profile_failure(self):
        """Item 4: an exception closes only when its own stream succeeds."""
        self.backend.klaviyo_list_id = "LIST1"
        self.customer.write({"city": "York", "esp_marketing_opt_in": True})
        self.adapter.fail(
            "upsert_profile", EspError("bad phone", category="data", status=400)
        )
        self._run_jobs()
        self.assertTrue(self.adapter.calls_of("update_consent"), "consent went")
        exception = self.env["esp.sync.exception"].search(
            [("res_id", "=", self.customer.id), ("res_model", "=", "res.partner")]
        )
        self.assertEqual((exception.stream, exception.state), ("profile", "open"))
        bindings = {b.stream: b.state for b in self.customer.esp_binding_ids}
        self.assertEqual(bindings, {"profile": "failed", "consent": "synced"})
        self.assertEqual(self.customer.esp_sync_state, "failed")

    # ---------------------------------------------------- silent skips (9)
    def test_order_of_a_customer_without_email_is_a_visible_exception(self):
        nobody = self.env["res.partner"].create({"name": "No Mail", "customer_rank": 1})
        order = self._order(partner=nobody)
        placed = self._ledger(event_type="order_placed", res_id=order.id)
        self.assertEqual(len(placed), 1, "recorded, not dropped")
        self._run_jobs()
        self.assertFalse(self.adapter.calls_of("send_order_event"))
        self.assertEqual(placed.state, "failed")
        self.assertEqual(placed.exception_id.code, "email_missing")
        self.assertEqual(placed.exception_id.team, "marketing")

    def test_removed_email_unsubscribes_the_old_address(self):
        self.backend.klaviyo_list_id = "LIST1"
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.customer.write({"email": False})
        change = self._ledger(event_type="email_change", res_id=self.customer.id)
        self.assertEqual(change.old_email, "ann.customer@example.com")
        self.adapter.calls.clear()
        self._run_jobs()
        (withdrawal,) = self.adapter.calls_of("update_consent")
        self.assertEqual(withdrawal[0]["email"], "ann.customer@example.com")
        self.assertEqual(withdrawal[0]["status"], "unsubscribed")
        self.assertEqual(change.state, "sent")

    def test_removed_email_kept_when_the_backend_says_so(self):
        self.backend.email_removed_policy = "keep"
        self.customer.write({"city": "York"})
        self._run_jobs()
        self.adapter.calls.clear()
        self.customer.write({"email": False})
        self._run_jobs()
        self.assertFalse(self.adapter.calls_of("update_consent"))
        self.assertFalse(self.adapter.calls_of("change_email"))
        change = self._ledger(event_type="email_change", res_id=self.customer.id)
        self.assertEqual(change.state, "skipped")
        self.assertIn("keeps", change.note)

    # ------------------------------------------------------ consent (item 9)
    def test_blacklisted_buyer_is_suppressed_when_they_buy(self):
        quiet = self.env["res.partner"].create(
            {"name": "Quiet Quinn", "email": "quinn@example.com"}
        )
        self.env["mail.blacklist"]._add("quinn@example.com")
        self.assertFalse(
            self._ledger(res_id=quiet.id, event_type="consent"),
            "outside the scope when blacklisted: nothing known yet",
        )
        self._order(partner=quiet)
        self._run_jobs()
        suppress = [
            args[0]
            for args in self.adapter.calls_of("update_consent")
            if args[0]["suppressed"]
        ]
        self.assertTrue(suppress, "the profile an order created is suppressed")
        self.assertEqual(suppress[0]["email"], "quinn@example.com")

    def test_blacklist_removal_lifts_the_suppression(self):
        entry = self.env["mail.blacklist"]._add(self.customer.email)
        self._run_jobs()
        (suppress,) = self.adapter.calls_of("update_consent")
        self.assertTrue(suppress[0]["suppressed"])
        entry.action_archive()
        self.adapter.calls.clear()
        self._run_jobs()
        (lift,) = self.adapter.calls_of("update_consent")
        self.assertEqual(lift[0]["email"], "ann.customer@example.com")
        self.assertTrue(lift[0]["lift_suppression"])
        self.assertFalse(lift[0]["suppressed"])
        self.assertNotEqual(
            lift[0]["status"], "subscribed", "lifting never subscribes anyone"
        )
        binding = self.customer.esp_binding_ids.filtered(
            lambda b: b.stream == "consent"
        )
        self.assertEqual(binding.last_consent_sent, "never")

    def test_echo_of_an_odoo_withdrawal_is_not_a_new_blacklist(self):
        self.backend.klaviyo_list_id = "LIST1"
        self.customer.write({"esp_marketing_opt_in": True})
        self.customer.write({"esp_marketing_opt_in": False})
        self._run_jobs()
        binding = self.customer.esp_binding_ids.filtered(
            lambda b: b.stream == "consent"
        )
        self.assertEqual(binding.last_consent_sent, "unsubscribed")
        update = self._consent_update("ann.customer@example.com", "unsubscribed")
        changed = self.env["res.partner"]._esp_apply_consent_updates(
            self.backend, [update]
        )
        self.assertEqual(changed, 0)
        self.assertFalse(
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", "ann.customer@example.com")]),
            "a withdrawal is not turned into a blacklist entry",
        )

    def test_a_genuine_esp_unsubscribe_revives_an_archived_blacklist_entry(self):
        entry = self.env["mail.blacklist"]._add(self.customer.email)
        entry.active = False
        update = self._consent_update("ann.customer@example.com", "unsubscribed")
        changed = self.env["res.partner"]._esp_apply_consent_updates(
            self.backend, [update]
        )
        self.assertEqual(changed, 1)
        self.assertTrue(entry.active, "archived entries are seen and revived")

    def test_esp_opt_out_racing_a_subscribe_is_told_back_to_that_esp(self):
        """The poll read an opt-out made before esp_sync's later subscribe
        landed: Odoo blacklists, and the ESP (Odoo masters opt-ins there)
        hears the opt-out back so it does not stay subscribed."""
        self.backend.klaviyo_list_id = "LIST1"
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        binding = self.customer.esp_binding_ids.filtered(
            lambda b: b.stream == "consent"
        )
        self.assertEqual(binding.last_consent_sent, "subscribed")
        update = self._consent_update("ann.customer@example.com", "unsubscribed")
        changed = self.env["res.partner"]._esp_apply_consent_updates(
            self.backend, [update]
        )
        self.assertEqual(changed, 1)
        self.assertTrue(self.customer._esp_is_blacklisted())
        pending = self.events.search(
            [
                ("backend_id", "=", self.backend.id),
                ("event_type", "=", "consent"),
                ("state", "=", "pending"),
            ]
        )
        self.assertEqual(len(pending), 1, "the origin ESP hears the opt-out back")
        # Its echo (what was just sent, read back) is not a new decision.
        self._run_jobs()
        self.assertEqual(
            self.env["res.partner"]._esp_apply_consent_updates(self.backend, [update]),
            0,
        )

    def _consent_update(self, email, status):
        from ..providers import events as ev

        return ev.ConsentUpdate(
            email=email, status=status, occurred_at=fields.Datetime.now()
        )

    # ---------------------------------------------- cleared properties (9)
    def test_cancelled_only_order_clears_commerce_properties(self):
        order = self._order(qty=1)
        self._run_jobs()
        order._action_cancel()
        self._run_jobs()
        profiles = self.adapter.calls_of("upsert_profile")
        properties = profiles[-1][0]["properties"]
        self.assertEqual(properties["Order Count"], 0)
        self.assertEqual(properties["Total Spend"], 0.0)

    # ----------------------------------------------- tag rename, merge (8)
    def test_tag_rename_refreshes_tagged_profiles(self):
        tag = self.env["res.partner.category"].create({"name": "VIP"})
        self.customer.with_context(esp_sync_no_capture=True).category_id = tag
        tag.name = "Gold"
        self.assertTrue(self._ledger(event_type="profile", res_id=self.customer.id))

    def test_merge_refreshes_the_survivor_and_moves_the_other_address(self):
        twin = self.env["res.partner"].create(
            {"name": "Ann Other", "email": "ann.other@example.com", "customer_rank": 1}
        )
        self.events.search([]).unlink()
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((self.customer | twin).ids, self.customer)
        self.assertIn("profile", self._types(res_id=self.customer.id))
        change = self._ledger(event_type="email_change", res_id=self.customer.id)
        self.assertEqual(change.old_email, "ann.other@example.com")

    # ------------------------------------------------- nothing stuck (6)
    @mute_logger("odoo.addons.esp_sync.models.esp_sync_delivery")
    def test_a_bug_becomes_an_it_exception_and_the_rows_retry(self):
        self.customer.write({"city": "York"})
        values_class = type(self.env["esp.sync.values"])

        def broken(values, event, record):
            raise ZeroDivisionError("a bug in a builder")

        self.patch(values_class, "_esp_build", broken)
        self._run_jobs(rounds=1)
        event = self._ledger(event_type="profile", res_id=self.customer.id)
        self.assertEqual(event.state, "pending", "back in a retryable state")
        self.assertGreater(event.due_at, fields.Datetime.now())
        exception = self.env["esp.sync.exception"].search(
            [("category", "=", "unexpected")]
        )
        self.assertEqual(exception.team, "it")
        self.assertIn("ZeroDivisionError", exception.message)
        self.assertIn("a bug in a builder", exception.sudo().traceback)

    def test_watchdog_wakes_rows_nobody_delivers(self):
        self.customer.write({"city": "York"})
        event = self._ledger(event_type="profile", res_id=self.customer.id)
        self.trap.enqueued_jobs.clear()  # the wake-up was lost
        event.due_at = fields.Datetime.subtract(fields.Datetime.now(), minutes=5)
        self.env["esp.sync.delivery"]._cron_watchdog()
        self.trap.assert_enqueued_job(
            self.backend._esp_dispatch, args=("bulk",), properties={}
        )

    def test_watchdog_releases_rows_held_behind_a_vanished_failure(self):
        self.customer.write({"city": "York"})
        event = self._ledger(event_type="profile", res_id=self.customer.id)
        event.due_at = False  # held, but nothing failed any more
        self.env["esp.sync.delivery"]._cron_watchdog()
        self.assertTrue(event.due_at)

    # ------------------------------------------------ set-based capture (3)
    def test_bulk_write_costs_constant_queries(self):
        people = self.env["res.partner"].create(
            [
                {"name": f"P{i}", "email": f"p{i}@example.com", "customer_rank": 1}
                for i in range(60)
            ]
        )
        self.env.flush_all()

        def queries(records, city):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            records.write({"city": city})
            self.env.flush_all()
            return self.cr.sql_log_count - before

        small, large = queries(people[:10], "Leeds"), queries(people, "York")
        self.assertLessEqual(large - small, 6, (small, large))
        rows = self.events.search(
            [("event_type", "=", "profile"), ("res_id", "in", people.ids)]
        )
        self.assertEqual(len(rows), 60 + 10 + 60, "one row per change and backend")

    def test_a_suppression_being_lifted_is_no_news(self):
        """Read back while the ESP still applies the lift esp_sync asked
        for, the old suppression is not a new opt-out (it would blacklist
        the person who just opted in again); a newer one is."""
        binding = self.env["esp.sync.binding"]._esp_get(
            self.backend, self.customer, "consent"
        )
        lifted = fields.Datetime.now()
        binding.write(
            {
                "last_consent_sent": "unsubscribed",
                "last_consent_sent_at": lifted,
                "suppression_lifted_at": lifted,
            }
        )

        def suppressed(at):
            return ConsentUpdate(
                email=self.customer.email_normalized,
                status="suppressed",
                occurred_at=at.replace(tzinfo=datetime.timezone.utc),
            )

        partners = self.env["res.partner"]
        before = lifted - datetime.timedelta(minutes=1)
        self.assertTrue(
            partners._esp_is_echo(self.backend, self.customer, suppressed(before))
        )
        later = lifted + datetime.timedelta(hours=2)
        self.assertFalse(
            partners._esp_is_echo(self.backend, self.customer, suppressed(later))
        )
