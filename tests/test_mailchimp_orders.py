# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .mailchimp_common import AUDIENCE, MailchimpCase


class TestMailchimpOrders(MailchimpCase):
    """Ecommerce: the store, and orders placed, fulfilled, cancelled, refunded."""

    def setUp(self):
        super().setUp()
        self.mailchimp.action_mailchimp_setup_store()

    def _order_at_mailchimp(self, order):
        return self._store("store-a")["orders"].get(str(order.id))

    def _refund(self, order, qty):
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = qty
        refund.action_post()
        return refund

    def test_setup_store_ties_the_store_to_the_audience(self):
        store = self._store("store-a")["store"]
        self.assertEqual(store["list_id"], AUDIENCE)
        self.assertEqual(store["currency_code"], self.company.currency_id.name)
        self.mailchimp.action_mailchimp_setup_store()  # idempotent
        self.assertEqual(len(self._calls("POST", "/ecommerce/stores")), 1)

    def test_placed_then_fulfilled(self):
        order = self._order(qty=3)
        self._run_jobs()
        placed = self._order_at_mailchimp(order)
        self.assertEqual(placed["order_total"], 300.0)
        self.assertEqual(placed["financial_status"], "paid")
        self.assertFalse(placed["fulfillment_status"])
        self.assertEqual(placed["lines"][0]["quantity"], 3)
        self.assertEqual(
            placed["customer"]["email_address"], "ann.customer@example.com"
        )
        self._deliver(order.picking_ids)
        self._run_jobs()
        self.assertEqual(
            self._order_at_mailchimp(order)["fulfillment_status"], "shipped"
        )

    def test_refund_turns_into_the_matching_order_update(self):
        order = self._order(qty=3)
        self._run_jobs()
        refund = self._refund(order, qty=1)
        self.sandbox.clear_requests()
        self._run_jobs()
        (patch,) = self._calls("PATCH", f"/orders/{order.id}")
        self.assertEqual(patch["body"]["financial_status"], "partially_refunded")
        self.assertEqual(patch["body"]["order_total"], 200.0, "net of the refund")
        self.assertEqual(patch["status"], 200)
        at_mailchimp = self._order_at_mailchimp(order)
        self.assertEqual(at_mailchimp["order_total"], 200.0)
        self.assertEqual(at_mailchimp["financial_status"], "partially_refunded")
        event = self.events.search(
            [("res_model", "=", "account.move"), ("res_id", "=", refund.id)]
        )
        self.assertEqual(event.state, "sent")

    def test_full_refund_marks_the_order_refunded(self):
        order = self._order(qty=2)
        self._refund(order, qty=2)
        self._run_jobs()
        at_mailchimp = self._order_at_mailchimp(order)
        self.assertEqual(at_mailchimp["financial_status"], "refunded")
        self.assertEqual(at_mailchimp["order_total"], 0.0)

    def test_cancelled_order_is_updated(self):
        order = self._order(qty=1)
        self._run_jobs()
        order._action_cancel()
        self._run_jobs()
        at_mailchimp = self._order_at_mailchimp(order)
        self.assertEqual(at_mailchimp["financial_status"], "cancelled")

    def test_order_of_a_deleted_product_still_syncs(self):
        order = self._order(qty=1)
        self.product.product_tmpl_id.action_archive()
        self.assertFalse(self.product.active)
        self._run_jobs()
        at_mailchimp = self._order_at_mailchimp(order)
        self.assertTrue(at_mailchimp, "the order reached Mailchimp")
        product_id = str(self.product.product_tmpl_id.id)
        product = self._store("store-a")["products"][product_id]
        self.assertEqual(product["variants"][0]["id"], str(self.product.id))
        self.assertEqual(at_mailchimp["lines"][0]["product_id"], product_id)

    def test_receipts_and_reservations_do_not_fulfil(self):
        order = self._order(qty=1)
        order.picking_ids.action_assign()
        self._run_jobs()
        self.assertFalse(self._order_at_mailchimp(order)["fulfillment_status"])
        self.assertFalse(self._calls("PATCH", f"/orders/{order.id}"))
