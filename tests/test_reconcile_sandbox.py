# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation finds drift made behind Odoo's back, and fixes it.

Against the Klaviyo sandbox: a profile deleted there, a figure edited
there, an unsubscribe made there whose webhook was lost.
"""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..providers import events as ev
from .common import EspSyncCase, use_shared_specs

KEY = "pk_sandbox_reconcile"


@tagged("post_install", "-at_install")
class TestReconcileSandbox(EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True, providers=["klaviyo"]).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.write({"base_url": cls.sb.url + "/klaviyo", "api_key": KEY})

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
        self.customer.write({"esp_marketing_opt_in": True, "city": "York"})
        self._order(partner=self.cat, qty=2)
        self._run_jobs()

    def _reconcile(self):
        # The demo's customers were never sent: this test looks at its own.
        emails = ["ann.customer@example.com", "bob@example.com", "cat@example.com"]
        run = self.env["esp.reconcile"].create(
            {
                "backend_id": self.backend.id,
                "scope": "domain",
                "domain": repr([("email_normalized", "in", emails)]),
            }
        )
        run.action_start()
        self._run_jobs(rounds=10)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.checked_count, run.total_count)
        return run

    def _drift(self):
        adapter = self.backend._esp_adapter()
        adapter.erase_profile(ev.Erasure(email="bob@example.com"))
        cat = next(
            p
            for p in self.sb.state("klaviyo")[KEY]["profiles"].values()
            if p["email"] == "cat@example.com"
        )
        adapter._request(
            "PATCH",
            f"/api/profiles/{cat['id']}",
            json={
                "data": {
                    "type": "profile",
                    "id": cat["id"],
                    "attributes": {"properties": {"Total Spend": 1.0}},
                }
            },
        )
        self.sb.action(
            "klaviyo", "unsubscribe", email=self.customer.email_normalized, account=KEY
        )

    def test_a_clean_account_has_no_difference(self):
        run = self._reconcile()
        self.assertEqual(run.total_count, 3)
        self.assertFalse(run.line_ids, run.line_ids.mapped("explanation"))

    def test_drift_behind_odoo_back_is_found_and_fixed(self):
        self._drift()
        run = self._reconcile()
        found = {
            (line.partner_id, line.kind, line.field_name or "", line.fix)
            for line in run.line_ids
        }
        self.assertEqual(
            found,
            {
                (self.bob, "missing", "", "repush"),
                (self.cat, "field", "Total Spend", "repush"),
                (self.customer, "consent", "Email marketing", "accept_esp"),
            },
        )
        spend = run.line_ids.filtered(lambda line: line.kind == "field")
        self.assertEqual((spend.odoo_value, spend.esp_value), ("200.0", "1.0"))
        run.line_ids.action_fix()
        self._run_jobs()
        self.assertTrue(self.customer._esp_is_blacklisted(), "the ESP's opt-out wins")
        self.assertFalse(self.customer.esp_marketing_opt_in)
        again = self._reconcile()
        self.assertFalse(again.line_ids, again.line_ids.mapped("explanation"))
        profiles = self.sb.state("klaviyo")[KEY]["profiles"].values()
        ann = next(p for p in profiles if p["email"] == self.customer.email_normalized)
        self.assertNotEqual(ann["subscriptions"]["email"]["consent"], "SUBSCRIBED")

    def test_ignore_and_cancel_and_rights(self):
        self._drift()
        run = self._reconcile()
        wizard = self.env["esp.reconcile.ignore"].create(
            {"line_ids": [(6, 0, run.line_ids.ids)], "reason": "test account"}
        )
        wizard.action_confirm()
        self.assertEqual(set(run.line_ids.mapped("state")), {"ignored"})
        self.assertEqual(set(run.line_ids.mapped("ignore_reason")), {"test account"})
        pending = self.env["esp.reconcile"].create({"backend_id": self.backend.id})
        pending.action_start()
        pending.action_cancel()
        self._run_jobs()
        self.assertEqual(pending.state, "cancelled")
        self.assertEqual(pending.checked_count, 0, "no chunk ran after the cancel")
        viewer = self.env["res.users"].create(
            {
                "name": "Viewer",
                "login": "reco_viewer",
                "groups_id": [
                    (6, 0, [self.env.ref("esp_sync.group_esp_sync_user").id])
                ],
            }
        )
        with self.assertRaises(AccessError):
            run.line_ids.with_user(viewer).action_fix()

    def test_daily_sample_alerts_on_drift_and_closes_when_clean(self):
        emails = ["ann.customer@example.com", "bob@example.com", "cat@example.com"]
        self.backend.write(
            {
                "partner_domain": repr([("email_normalized", "in", emails)]),
                "reconcile_sample_size": 50,
                "drift_alert_percent": 20.0,
            }
        )
        incidents = self.env["esp.sync.incident"]
        self._drift()
        self.env["esp.backend"]._cron_reconcile()
        self._run_jobs(rounds=10)
        run = self.env["esp.reconcile"].search([("scheduled", "=", True)])
        self.assertEqual(run.state, "done")
        self.assertAlmostEqual(run.drift_percent, 100.0)
        incidents._esp_check(self.backend)
        drift = incidents.search([("kind", "=", "drift"), ("state", "=", "open")])
        self.assertEqual(drift.backend_id, self.backend)
        self.assertEqual(drift.team, "marketing")
        self.assertTrue(drift.activity_ids, "a to-do for the responsible")
        run.line_ids.action_fix()
        self._run_jobs()
        self.env["esp.backend"]._cron_reconcile()
        self._run_jobs(rounds=10)
        incidents._esp_check(self.backend)
        self.assertEqual(drift.state, "closed", "the next clean sample closes it")

    def test_a_rate_limited_chunk_is_retried_not_an_exception(self):
        """Seen in the soak: a 429 during a reconciliation was recorded as a
        bug; it is a retry, as the ESP says."""
        from unittest.mock import patch

        from odoo.addons.queue_job.exception import RetryableJobError

        from ..providers import EspError

        run = self.env["esp.reconcile"].create({"backend_id": self.backend.id})
        run.action_start()
        error = EspError("slow down", category="rate_limit", status=429, retry_after=3)
        adapter_class = type(self.backend._esp_adapter())
        with patch.object(adapter_class, "read_profiles", side_effect=error):
            with self.assertRaises(RetryableJobError):
                run._esp_check_chunk()
        self.assertFalse(
            self.env["esp.sync.exception"].search([("category", "=", "unexpected")])
        )
        self.assertEqual(run.state, "running")
