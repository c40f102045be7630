# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Post-purchase flows wait for the release gate (issue 11, item 1).

Placed Order leaves at once; "Order Confirmed" leaves when the order passes
the backend's gate; an order held too long opens an exception for sales.
"""

from datetime import timedelta

from odoo import fields

from .common import EspSyncCase
from .klaviyo_common import KlaviyoHttpMixin


class TestReleaseGate(KlaviyoHttpMixin, EspSyncCase):
    def _released(self, order, backend=None):
        return self._ledger(
            res_model="sale.order",
            res_id=order.id,
            event_type="order_released",
            backend_id=(backend or self.backend).id,
        )

    def _release(self):
        return self.backend._esp_release_orders()

    def test_no_gate_sends_no_release_signal(self):
        order = self._order()
        self.assertEqual(self._release(), (0, 0))
        self.env["esp.backend"]._cron_release_orders()
        self.assertFalse(self._released(order))

    def test_reserved_gate_waits_for_stock(self):
        self.backend.release_gate = "reserved"
        self.product.is_storable = True
        order = self._order(qty=2)
        self.assertTrue(
            self._ledger(res_id=order.id, event_type="order_placed"),
            "Placed Order leaves at once",
        )
        self.assertEqual(order.picking_ids.state, "confirmed", "no stock yet")
        self.assertEqual(self._release(), (0, 0))
        self.assertFalse(self._released(order))

        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.company.id)], limit=1
        )
        self.env["stock.quant"]._update_available_quantity(
            self.product, warehouse.lot_stock_id, 5
        )
        order.picking_ids.action_assign()
        self.assertEqual(order.picking_ids.state, "assigned")
        self.assertEqual(self._release(), (1, 0))
        (row,) = self._released(order)
        self.assertEqual(row.priority, 5, "the release is urgent work")
        # Released once: the next run finds nothing to do.
        self.assertEqual(self._release(), (0, 0))
        self.assertEqual(len(self._released(order)), 1)

    def test_paid_gate_holds_the_order_as_pending_until_paid(self):
        self.backend.release_gate = "paid"
        order = self._order()
        values = self.env["esp.sync.values"]
        self.assertEqual(
            values._esp_order(self.backend, order).financial_status,
            "pending",
            "held: Mailchimp must not send its order confirmation yet",
        )
        invoice = order._create_invoices()
        invoice.action_post()
        self.assertEqual(self._release(), (0, 0), "invoiced, not paid")
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        commerce = values._esp_commerce_properties
        email = self.customer.email_normalized
        self.assertEqual(
            commerce(self.backend, [email])[email]["Orders Awaiting Release"], 1
        )
        profiles = len(self._ledger(res_model="res.partner", res_id=self.customer.id))
        self.assertEqual(self._release(), (1, 0))
        self.assertEqual(
            commerce(self.backend, [email])[email]["Orders Awaiting Release"], 0
        )
        self.assertEqual(
            len(self._ledger(res_model="res.partner", res_id=self.customer.id)),
            profiles + 1,
            "the profile is refreshed with the release",
        )
        snapshot = values._esp_order(self.backend, order)
        self.assertEqual(snapshot.financial_status, "paid")
        self.assertTrue(snapshot.released_at)

    def test_credit_gate_holds_customers_with_overdue_invoices(self):
        self.backend.release_gate = "credit"
        old = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": fields.Date.today() - timedelta(days=60),
                "invoice_date_due": fields.Date.today() - timedelta(days=30),
                "invoice_line_ids": [
                    (0, 0, {"name": "Old", "quantity": 1, "price_unit": 50.0})
                ],
            }
        )
        old.action_post()
        order = self._order()
        self.assertEqual(self._release(), (0, 0))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=old.ids
        ).create({})._create_payments()
        self.assertEqual(self._release(), (1, 0))
        self.assertTrue(self._released(order))

    def test_an_order_held_too_long_reaches_sales_once(self):
        self.backend.write({"release_gate": "paid", "release_timeout_hours": 24})
        order = self._order()
        order.date_order = fields.Datetime.now() - timedelta(hours=30)
        self.assertEqual(self._release(), (0, 1))
        self._release()  # a second run opens nothing more
        exceptions = self.env["esp.sync.exception"].search(
            [("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
        )
        self.assertEqual(len(exceptions), 1)
        self.assertEqual(exceptions.category, "release")
        self.assertEqual(exceptions.team, "sales")
        self.assertIn(order.name, exceptions.message)
        todo = order.activity_ids.filtered(
            lambda a: a.summary == "Order held by the ESP release gate"
        )
        self.assertEqual(len(todo), 1)
        self.assertEqual(todo.user_id, order.user_id or self.env.user)

    def test_klaviyo_gets_order_confirmed_after_placed(self):
        self.backend.release_gate = "reserved"
        order = self._order()  # a consumable: nothing to reserve
        self.assertEqual(self._release(), (1, 0))
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            metrics = [self._metric(b) for b in self._bodies(rsps, "/api/events")]
        self.assertIn("Order Confirmed", metrics)
        self.assertLess(metrics.index("Placed Order"), metrics.index("Order Confirmed"))
        (row,) = self._released(order)
        self.assertEqual(row.state, "sent")
