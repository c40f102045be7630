# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation of orders and of contacts only the ESP knows.

Drift is injected into the Klaviyo sandbox's state behind Odoo's back: a
Placed Order event that never arrived, a Cancelled Order event lost (the
ESP still has an order Odoo cancelled), a Refunded Order event with a wrong
amount. The run finds each, its fixes repair them through the delivery
path, and a second run finds nothing.
"""

import dataclasses
import datetime
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..providers import events as ev
from .common import EspSyncCase, use_shared_specs

KEY = "pk_sandbox_reconcile_orders"
EMAILS = ["ann.customer@example.com", "bob@example.com", "cat@example.com"]


@tagged("post_install", "-at_install")
class TestReconcileOrdersSandbox(EspSyncCase):
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
                # The demo's customers and orders were never sent.
                "partner_domain": repr([("email_normalized", "in", EMAILS)]),
            }
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        people = self.env["res.partner"]
        self.bob = people.create(
            {"name": "Bob Buyer", "email": "bob@example.com", "customer_rank": 1}
        )
        self.cat = people.create(
            {"name": "Cat Client", "email": "cat@example.com", "customer_rank": 1}
        )
        self.lost = self._order(partner=self.bob, qty=3)
        self.cancelled = self._order(partner=self.cat, qty=1)
        self.refunded = self._order(qty=2)
        self._run_jobs()
        self.cancelled.with_context(disable_cancel_warning=True).action_cancel()
        invoice = self.refunded._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves()
        refund.invoice_line_ids.quantity = 1
        refund.action_post()
        self._run_jobs()

    def _reconcile(self, scope="orders"):
        today = fields.Date.context_today(self.env["res.partner"])
        run = self.env["esp.reconcile"].create(
            {
                "backend_id": self.backend.id,
                "scope": scope,
                "date_from": today - datetime.timedelta(days=10),
                "date_to": today + datetime.timedelta(days=1),
            }
        )
        run.action_start()
        self._run_jobs(rounds=10)
        self.assertEqual(run.state, "done")
        if not run.not_readable:
            self.assertEqual(run.checked_count, run.total_count)
        return run

    def _drift(self):
        self.sb.action("klaviyo", "drop_order_event", order_id=str(self.lost.id))
        self.sb.action(
            "klaviyo",
            "drop_order_event",
            order_id=str(self.cancelled.id),
            metric="Cancelled Order",
        )
        self.sb.action(
            "klaviyo",
            "set_order_event_value",
            order_id=str(self.refunded.id),
            value=40.0,
        )

    def test_a_clean_account_has_no_difference(self):
        run = self._reconcile()
        self.assertEqual(run.total_count, 2, "12 days: two windows of 7")
        self.assertFalse(run.line_ids, run.line_ids.mapped("explanation"))
        day = fields.Datetime.now().date().isoformat()
        self.assertEqual(
            run._esp_revenue_by("day"), [(day, 300.0 + 100.0, 300.0 + 100.0)]
        )
        self.assertIn(day[:7], run.revenue_html)

    def test_order_drift_is_found_fixed_and_gone(self):
        self._drift()
        run = self._reconcile()
        found = {
            (line.sale_order_id, line.kind, line.field_name or "", line.fix)
            for line in run.line_ids
        }
        self.assertEqual(
            found,
            {
                (self.lost, "order_missing", "", "repush"),
                (self.cancelled, "order_extra", "Status", "cancel"),
                (self.refunded, "order_mismatch", "Refunded", "correct"),
                (self.env["sale.order"], "revenue_period", "Revenue", "review"),
            },
        )
        missing = run.line_ids.filtered(lambda line: line.kind == "order_missing")
        self.assertIn("lost or deleted", missing.explanation)
        refund = run.line_ids.filtered(lambda line: line.kind == "order_mismatch")
        self.assertEqual((refund.odoo_value, refund.esp_value), ("100.00", "40.00"))
        day = run.line_ids.filtered(lambda line: line.kind == "revenue_period")
        # Odoo: 300 + (200 - 100); the ESP: 0 (lost) + 100 (cancel lost) + 160.
        self.assertEqual((day.odoo_value, day.esp_value), ("400.00", "260.00"))

        (run.line_ids - day).action_fix()
        self.assertEqual(set(run.line_ids.mapped("state")), {"fixed"})
        self._run_jobs()
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))
        corrections = [
            event
            for event in self.sb.state("klaviyo")[KEY]["events"]
            if event["properties"].get("Correction")
        ]
        self.assertEqual([event["value"] for event in corrections], [60.0])

    def test_an_order_unknown_in_odoo_is_reported_until_ignored(self):
        adapter = self.backend._esp_adapter()
        snapshot = self.env["esp.sync.values"]._esp_order(self.backend, self.lost)
        stranger = ev.OrderEvent(
            kind=ev.EventKind.PLACED,
            unique_id="shopify-9",
            order=dataclasses.replace(snapshot, order_id="SHOP-9"),
            occurred_at=snapshot.placed_at,
            value=50.0,
        )
        adapter.send_order_event(stranger)
        run = self._reconcile()
        extra = run.line_ids.filtered(lambda line: line.kind == "order_extra")
        self.assertEqual(
            (extra.esp_order_ref, extra.fix, extra.explanation),
            ("SHOP-9", "review", "Unknown in Odoo"),
        )
        extra.action_fix()
        self.assertEqual(extra.state, "open", "nothing automatic to review")
        self.env["esp.reconcile.ignore"].create(
            {"line_ids": [(6, 0, run.line_ids.ids)], "reason": "the old shop"}
        ).action_confirm()
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))

    def test_contacts_only_the_esp_knows(self):
        adapter = self.backend._esp_adapter()
        values = self.env["esp.sync.values"]
        stranger = values._esp_profile(self.backend, self.bob)
        adapter.upsert_profile(
            dataclasses.replace(
                stranger,
                email="stranger@example.com",
                external_id="stranger",
                phone="",
                consent=None,
            )
        )
        self.cat.active = False
        run = self._reconcile(scope="extra")
        found = {(line.email, line.explanation) for line in run.line_ids}
        self.assertEqual(
            found,
            {
                ("stranger@example.com", "Unknown in Odoo"),
                ("cat@example.com", "Archived in Odoo"),
            },
        )
        self.assertEqual(set(run.line_ids.mapped("kind")), {"contact_extra"})
        self.env["esp.reconcile.ignore"].create(
            {"line_ids": [(6, 0, run.line_ids.ids)], "reason": "shop signups"}
        ).action_confirm()
        again = self._reconcile(scope="extra")
        self.assertFalse(again.line_ids, again.line_ids.mapped("email"))

    def test_an_esp_that_cannot_list_orders_says_so(self):
        adapter_class = type(self.backend._esp_adapter())
        with patch.object(adapter_class, "read_orders", return_value=None):
            run = self._reconcile()
        self.assertIn("not readable", run.not_readable)
        self.assertFalse(run.line_ids)

    def test_a_rate_limited_window_is_retried_not_an_exception(self):
        from odoo.addons.queue_job.exception import RetryableJobError

        from ..providers import EspError

        today = fields.Date.context_today(self.env["res.partner"])
        run = self.env["esp.reconcile"].create(
            {
                "backend_id": self.backend.id,
                "scope": "orders",
                "date_from": today,
                "date_to": today,
            }
        )
        run.action_start()
        error = EspError("slow down", category="rate_limit", status=429, retry_after=3)
        adapter_class = type(self.backend._esp_adapter())
        with patch.object(adapter_class, "read_orders", side_effect=error):
            with self.assertRaises(RetryableJobError):
                run._esp_check_chunk()
        self.assertEqual((run.state, run.checked_count), ("running", 0))
        self.assertFalse(
            self.env["esp.sync.exception"].search([("category", "=", "unexpected")])
        )

    def test_an_ignored_difference_is_not_reported_again(self):
        self._drift()
        run = self._reconcile()
        accepted = run.line_ids.filtered(
            lambda line: line.kind in ("order_mismatch", "revenue_period")
        )
        self.env["esp.reconcile.ignore"].create(
            {"line_ids": [(6, 0, accepted.ids)], "reason": "refund agreed by phone"}
        ).action_confirm()
        (run.line_ids - accepted).action_fix()
        self._run_jobs()
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))

    def test_an_order_run_needs_its_days(self):
        from odoo.exceptions import UserError

        run = self.env["esp.reconcile"].create(
            {"backend_id": self.backend.id, "scope": "orders"}
        )
        with self.assertRaises(UserError):
            run.action_start()
        self.assertEqual(run.state, "draft")
