# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Order reconciliation at Mailchimp, whose orders are edited in place.

Drift made in the sandbox's store behind Odoo's back: an order deleted, a
wrong net total after a refund, an order Odoo cancelled shown as paid.
Re-pushing through the ledger repairs each; a second run finds nothing.
"""

import datetime

from odoo import fields

from .mailchimp_common import MailchimpCase

STORE = "store-a"


class TestReconcileOrdersMailchimp(MailchimpCase):
    def setUp(self):
        super().setUp()
        self.mailchimp.write(
            {
                "partner_domain": repr(
                    [("email_normalized", "=", "ann.customer@example.com")]
                )
            }
        )
        self.mailchimp.action_mailchimp_setup_store()
        self.lost = self._order(qty=1)
        self.cancelled = self._order(qty=2)
        self.refunded = self._order(qty=3)
        self._run_jobs()
        self.cancelled.with_context(disable_cancel_warning=True).action_cancel()
        invoice = self.refunded._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        self._run_jobs()

    def _reconcile(self):
        today = fields.Date.context_today(self.mailchimp)
        run = self.env["esp.reconcile"].create(
            {
                "backend_id": self.mailchimp.id,
                "scope": "orders",
                "date_from": today - datetime.timedelta(days=1),
                "date_to": today + datetime.timedelta(days=1),
            }
        )
        run.action_start()
        self._run_jobs(rounds=10)
        self.assertEqual(run.state, "done")
        return run

    def _order_path(self, order):
        return f"/3.0/ecommerce/stores/{STORE}/orders/{order.id}"

    def test_drift_in_the_store_is_found_and_repushed(self):
        adapter = self.mailchimp._esp_adapter()
        adapter._request("DELETE", self._order_path(self.lost))
        adapter._request(
            "PATCH", self._order_path(self.refunded), json={"order_total": 250.0}
        )
        adapter._request(
            "PATCH",
            self._order_path(self.cancelled),
            json={"financial_status": "paid"},
        )
        run = self._reconcile()
        found = {
            (line.sale_order_id, line.kind, line.fix, line.odoo_value, line.esp_value)
            for line in run.line_ids
            if line.kind != "revenue_period"
        }
        self.assertEqual(
            found,
            {
                (self.lost, "order_missing", "repush", False, False),
                (self.cancelled, "order_extra", "cancel", "cancelled", "paid"),
                (self.refunded, "order_mismatch", "repush", "200.00", "250.00"),
            },
        )
        run.line_ids.action_fix()
        self._run_jobs()
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))
        orders = self._store(STORE)["orders"]
        self.assertEqual(float(orders[str(self.refunded.id)]["order_total"]), 200.0)
        self.assertEqual(
            orders[str(self.cancelled.id)]["financial_status"], "cancelled"
        )
