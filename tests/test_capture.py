# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import responses

from .. import const
from .common import EspSyncCase


class TestCapture(EspSyncCase):
    """Hooks record ledger rows and enqueue jobs; they never call an ESP."""

    def _ledger(self, **domain):
        return super()._ledger(backend_id=self.backend.id, **domain)

    def test_partner_change_enqueues_profile_job_without_http(self):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            self.customer.write({"city": "York"})
            self.assertEqual(len(rsps.calls), 0, "no ESP call in the user transaction")
        event = self._ledger(event_type="profile")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.group_ref, f"res.partner,{self.customer.id}")
        self.trap.assert_enqueued_job(
            self.backend._esp_dispatch,
            args=("bulk",),
            properties={
                "channel": const.CHANNEL_BULK,
                "identity_key": f"esp_sync:dispatch:{self.backend.id}:bulk",
            },
        )

    def test_unrelated_field_change_enqueues_nothing(self):
        self.customer.write({"comment": "<p>likes red</p>"})
        self.assertFalse(self._ledger())
        self.trap.assert_jobs_count(0)

    def test_repeated_changes_coalesce_into_one_delivery_and_job(self):
        self.customer.write({"city": "York"})
        self.customer.write({"city": "Hull"})
        self.customer.write({"phone": "+44 113 496 0000"})
        rows = self._ledger(event_type="profile")
        self.assertEqual(len(rows), 3, "capture only inserts, never updates a row")
        self.trap.assert_jobs_count(1)
        adapter = self._recorder()
        self._run_jobs()
        ((profile,),) = adapter.calls_of("upsert_profile")
        self.assertEqual(profile["address"]["city"], "Hull")
        self.assertEqual(set(rows.mapped("state")), {"sent"}, "one call for all")

    def test_sync_writes_do_not_capture(self):
        self.customer.with_context(esp_sync_no_capture=True).write({"city": "York"})
        self.assertFalse(self._ledger())

    def test_consent_change_is_urgent(self):
        self.customer.write({"esp_marketing_opt_in": True})
        consent = self._ledger(event_type="consent")
        self.assertEqual(len(consent), 1)
        self.assertEqual(consent.priority, const.PRIORITY_URGENT)
        self.assertTrue(self.customer.esp_consent_date, "consent evidence is dated")
        self.trap.assert_enqueued_job(
            self.backend._esp_dispatch,
            args=("urgent",),
            properties={"channel": const.CHANNEL_URGENT, "priority": 5},
        )

    def test_blacklisting_is_a_consent_change(self):
        self.env["mail.blacklist"]._add(self.customer.email)
        self.assertEqual(len(self._ledger(event_type="consent")), 1)

    def test_order_lifecycle_records_ordered_events(self):
        order = self._order()
        placed = self._ledger(event_type="order_placed")
        self.assertEqual(placed.group_ref, f"sale.order,{order.id}")
        self.assertEqual(placed.idempotency_key, f"sale.order:{order.id}:order_placed")
        self.assertEqual(placed.priority, const.PRIORITY_URGENT)
        picking = order.picking_ids
        picking.action_assign()
        self.assertFalse(
            self._ledger(event_type="order_fulfilled"),
            "creation and reservation of a delivery are not a fulfilment",
        )
        self._deliver(picking)
        fulfilled = self._ledger(event_type="order_fulfilled")
        self.assertEqual(fulfilled.group_ref, placed.group_ref)
        self.assertEqual(fulfilled.res_model, "stock.picking")
        order._action_cancel()
        self.assertEqual(len(self._ledger(event_type="order_cancelled")), 1)

    def test_confirming_twice_records_placed_once(self):
        order = self._order()
        order._esp_capture("order_placed")  # e.g. a second hook firing
        self.assertEqual(len(self._ledger(event_type="order_placed")), 1)

    def test_reconfirmed_order_gets_a_new_key(self):
        order = self._order()
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        keys = self._ledger(event_type="order_placed").mapped("idempotency_key")
        self.assertEqual(
            keys,
            [
                f"sale.order:{order.id}:order_placed",
                f"sale.order:{order.id}:order_placed:2",
            ],
        )

    def test_refund_recorded_on_posting_not_draft(self):
        order = self._order()
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        self.assertFalse(self._ledger(event_type="order_refunded"), "draft: nothing")
        refund.action_post()
        event = self._ledger(event_type="order_refunded")
        self.assertEqual(event.res_id, refund.id)
        self.assertEqual(event.group_ref, f"sale.order,{order.id}")

    def test_refund_trigger_paid_waits_for_payment(self):
        self.backend.refund_trigger = "paid"
        order = self._order()
        invoice = order._create_invoices()
        invoice.action_post()
        self._pay(invoice)
        refund = invoice._reverse_moves()
        refund.action_post()
        self.assertFalse(self._ledger(event_type="order_refunded"))
        self._pay(refund)
        self.assertIn(refund.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(self._ledger(event_type="order_refunded")), 1)

    def _pay(self, move):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({})._create_payments()

    def test_other_company_backend_gets_nothing(self):
        backend_b = self._other_company_backend()
        self._order()
        self.assertTrue(self._ledger(event_type="order_placed"))
        self.assertFalse(self.events.search([("backend_id", "=", backend_b.id)]))

    def test_partner_outside_domain_is_not_captured(self):
        supplier = self.env["res.partner"].create(
            {"name": "Supplier", "email": "supply@example.com", "supplier_rank": 1}
        )
        supplier.write({"city": "Leeds"})
        self.assertFalse(
            self.events.search(
                [("res_model", "=", "res.partner"), ("res_id", "=", supplier.id)]
            )
        )

    def test_scope_follows_backend_and_rule_changes_at_once(self):
        """Capture caches what it reads of a backend; every change to the
        backend or to one of its routing rules is seen by the next write."""

        def captured(city):
            self.customer.write({"city": city})
            return bool(self._ledger(event_type="profile", res_id=self.customer.id))

        vip = self.env["res.partner.category"].create({"name": "VIP"})
        self.assertTrue(captured("York"))
        self.events.search([]).unlink()
        self.backend.partner_domain = "[('supplier_rank', '>', 0)]"
        self.assertFalse(captured("Hull"), "the new domain applies at once")
        self.backend.partner_domain = "[('customer_rank', '>', 0)]"
        self.assertTrue(captured("Leeds"))
        self.events.search([]).unlink()
        rule = self.env["esp.audience.rule"].create(
            {
                "name": "VIPs only",
                "backend_id": self.backend.id,
                "list_id": "L1",
                "category_ids": [(6, 0, vip.ids)],
            }
        )
        self.assertFalse(captured("Bath"), "a new rule routes at once")
        rule.active = False
        self.assertTrue(captured("Bristol"), "an archived rule stops at once")
        self.events.search([]).unlink()
        self.backend.profile_mode = "scheduled"
        self.assertTrue(captured("Derby"))
        self.assertEqual(self._ledger(event_type="profile").mode, "scheduled")

    def test_scheduled_stream_waits_for_cron(self):
        self.backend.profile_mode = "scheduled"
        self.customer.write({"city": "York"})
        event = self._ledger(event_type="profile")
        self.assertEqual(event.mode, "scheduled")
        self.trap.assert_jobs_count(0)
        self.env["esp.backend"]._cron_deliver_scheduled()
        self.trap.assert_jobs_count(1)
        self.assertTrue(self.backend.last_batch_at)
