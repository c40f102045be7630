# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Order reconciliation at Dotdigital: the Orders collection, read back.

A wrong refund total written into the sandbox's record behind Odoo's back
and a record deleted there are found; sending the order again repairs both.
"""

import datetime

from odoo import fields
from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter

from .common import EspSyncCase, use_shared_specs

USER = "apiuser-sandbox-reco@apiconnector.com"


@tagged("post_install", "-at_install")
class TestReconcileOrdersDotdigital(EspSyncCase):
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
                "name": "Dotdigital reconciliation",
                "provider": "dotdigital",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("dotdigital"),
                "api_user": USER,
                "api_secret": "sandbox-password",
                "dotdigital_address_book_id": "1",
                "partner_domain": repr(
                    [("email_normalized", "=", "ann.customer@example.com")]
                ),
            }
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        dotdigital_adapter._fields_cache.clear()
        self.lost = self._order(qty=1)
        self.refunded = self._order(qty=3)
        self._run_jobs()
        invoice = self.refunded._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        self._run_jobs()

    def _reconcile(self):
        today = fields.Date.context_today(self.dd)
        run = self.env["esp.reconcile"].create(
            {
                "backend_id": self.dd.id,
                "scope": "orders",
                "date_from": today - datetime.timedelta(days=1),
                "date_to": today + datetime.timedelta(days=1),
            }
        )
        run.action_start()
        self._run_jobs(rounds=10)
        self.assertEqual(run.state, "done")
        self.assertFalse(run.not_readable)
        return run

    def _record(self, order):
        email = "ann.customer@example.com"
        return f"/insightData/v3/contacts/email/{email}/Orders/{order.id}"

    def test_wrong_refund_and_lost_record_are_found_and_repushed(self):
        self.assertFalse(self._reconcile().line_ids)
        adapter = self.dd._esp_adapter()
        record = adapter._request("GET", self._record(self.refunded))
        adapter._request(
            "PUT",
            self._record(self.refunded),
            json=dict(record["json"], refundedTotal=40.0),
        )
        adapter._request("DELETE", self._record(self.lost))
        run = self._reconcile()
        found = {
            (line.sale_order_id, line.kind, line.field_name or "", line.fix)
            for line in run.line_ids
            if line.kind != "revenue_period"
        }
        self.assertEqual(
            found,
            {
                (self.lost, "order_missing", "", "repush"),
                (self.refunded, "order_mismatch", "Refunded", "repush"),
            },
        )
        run.line_ids.action_fix()
        self._run_jobs()
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))
