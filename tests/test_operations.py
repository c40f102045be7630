# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError

from odoo.addons.esp_sync.providers import EspError

from .common import EspSyncCase


class TestOperations(EspSyncCase):
    """Health figures, incidents that reach people, the exception queue."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        manager_group = cls.env.ref("esp_sync.group_esp_sync_manager")
        user_group = cls.env.ref("esp_sync.group_esp_sync_user")
        cls.ops_user = cls.env["res.users"].create(
            {
                "name": "Olive Ops",
                "login": "esp_olive",
                "email": "olive@example.com",
                "groups_id": [(6, 0, manager_group.ids)],
            }
        )
        cls.it_user = cls.env["res.users"].create(
            {
                "name": "Ivan IT",
                "login": "esp_ivan",
                "groups_id": [(6, 0, manager_group.ids)],
            }
        )
        cls.viewer = cls.env["res.users"].create(
            {
                "name": "Vera Viewer",
                "login": "esp_vera",
                "groups_id": [(6, 0, user_group.ids)],
            }
        )
        cls.backend.write(
            {
                "operations_user_id": cls.ops_user.id,
                "it_user_id": cls.it_user.id,
                "alert_emails": "ops@example.com, cto@example.com",
                "latency_alert_minutes": 10,
            }
        )
        cls.hour = fields.Datetime.now().replace(
            minute=0, second=0, microsecond=0
        ) - timedelta(hours=3)

    # ---------------------------------------------------------------- helpers
    def _rows(self, rows, backend=None):
        """Insert ledger rows directly: (state, event_type, minutes, latency)."""
        backend = backend or self.backend
        stream = {"profile": "profile", "order_placed": "order"}
        for index, (state, event_type, minutes, latency) in enumerate(rows):
            occurred = self.hour + timedelta(minutes=minutes)
            self.env.cr.execute(
                """
                INSERT INTO esp_sync_event (
                    backend_id, company_id, event_type, stream, res_model, res_id,
                    group_ref, idempotency_key, occurred_at, mode, priority,
                    state, sent_at, latency_seconds
                ) VALUES (%s, %s, %s, %s, 'res.partner', %s, %s, %s, %s,
                          'realtime', 0, %s, %s, %s)
                """,
                (
                    backend.id,
                    backend.company_id.id,
                    event_type,
                    stream[event_type],
                    self.customer.id,
                    f"test-{backend.id}-{index}",
                    f"test-{backend.id}-{index}-{minutes}",
                    occurred,
                    state,
                    occurred + timedelta(seconds=latency or 0)
                    if state == "sent"
                    else None,
                    latency if state == "sent" else None,
                ),
            )
        self.env.invalidate_all()

    def _check(self):
        self.env["esp.backend"]._cron_check_latency()
        self.env.invalidate_all()

    def _incidents(self, kind):
        return self.env["esp.sync.incident"].search(
            [("backend_id", "=", self.backend.id), ("kind", "=", kind)]
        )

    def _mails(self):
        return self.env["mail.mail"].search(
            [("model", "=", "esp.sync.incident"), ("email_to", "like", "ops@")]
        )

    # ---------------------------------------------------------------- health
    def test_health_figures(self):
        self._rows(
            [
                ("sent", "profile", 1, 10.0),
                ("sent", "profile", 2, 20.0),
                ("sent", "profile", 3, 30.0),
                ("sent", "profile", 4, 40.0),
                ("failed", "profile", 5, None),
                ("pending", "profile", 6, None),
                ("pending", "profile", 7, None),
                ("sent", "order_placed", 8, 5.0),
            ]
        )
        health = self.env["esp.sync.health"].search(
            [("backend_id", "=", self.backend.id), ("stream", "=", "profile")]
        )
        self.assertEqual(len(health), 1)
        self.assertEqual(health.period, self.hour)
        self.assertEqual(
            (health.changes, health.delivered, health.failed, health.backlog),
            (7, 4, 1, 2),
        )
        self.assertAlmostEqual(health.latency_p50, 25.0)
        self.assertAlmostEqual(health.latency_p95, 38.5)
        self.assertAlmostEqual(health.error_rate, 20.0)
        # Grouped by day, as the pivot and the graph do.
        groups = self.env["esp.sync.health"].read_group(
            [("backend_id", "=", self.backend.id)],
            ["changes:sum", "backlog:sum", "latency_p95:max"],
            ["period:day"],
        )
        self.assertEqual(groups[0]["changes"], 8)
        self.assertEqual(groups[0]["backlog"], 2)
        self.assertAlmostEqual(groups[0]["latency_p95"], 38.5)
        # Live figures on the backend.
        self.backend.paused_until = fields.Datetime.now() + timedelta(minutes=5)
        waited = (fields.Datetime.now() - self.hour).total_seconds() // 60 - 6
        self.assertEqual(self.backend.pending_count, 2)
        self.assertAlmostEqual(self.backend.oldest_pending_minutes, waited, delta=1)
        self.assertTrue(self.backend.rate_limited)

    # ------------------------------------------------------------- incidents
    def test_latency_incident_raised_once_and_closed_once(self):
        self._rows([("pending", "profile", 0, None)])
        self._check()
        self._check()  # still late: no second to-do, no second email
        incident = self._incidents("latency")
        self.assertEqual(len(incident), 1)
        self.assertEqual(incident.state, "open")
        self.assertEqual(incident.user_id, self.ops_user)
        self.assertEqual(len(incident.activity_ids), 1)
        self.assertEqual(incident.activity_ids.user_id, self.ops_user)
        mail = self._mails()
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.email_to, "ops@example.com, cto@example.com")
        self.assertIn("1 change(s)", mail.body_html)
        self.assertEqual(self.backend.open_incident_count, 1)
        # Health returns: the incident closes and says so.
        self.env.cr.execute(
            "UPDATE esp_sync_event SET state = 'sent' WHERE backend_id = %s",
            (self.backend.id,),
        )
        self._check()
        self._check()
        self.assertEqual(incident.state, "closed")
        self.assertTrue(incident.closed_at)
        self.assertFalse(incident.activity_ids)
        closing = incident.message_ids.filtered(
            lambda m: "Health returned" in (m.body or "")
        )
        self.assertEqual(len(closing), 1)
        self.assertEqual(len(self._incidents("latency")), 1)
        self.assertEqual(len(self._mails()), 1)
        # A new problem is a new incident.
        self._rows([("pending", "profile", 30, None)])
        self._check()
        self.assertEqual(len(self._incidents("latency")), 2)
        self.assertEqual(len(self._mails()), 2)

    def test_credentials_rejected_goes_to_it(self):
        exception = self.env["esp.sync.exception"]._esp_record(
            self.backend,
            self.customer,
            EspError("Invalid API key", category="authentication", code="401"),
            stream="profile",
        )
        self._check()
        incident = self._incidents("authentication")
        self.assertEqual((incident.team, incident.user_id), ("it", self.it_user))
        self.assertEqual(incident.activity_ids.user_id, self.it_user)
        exception.state = "resolved"
        self._check()
        self.assertEqual(incident.state, "closed")

    def test_responsible_without_rights_falls_back_to_admin(self):
        outsider = self.env["res.users"].create(
            {"name": "No Rights", "login": "esp_norights", "groups_id": []}
        )
        self.backend.operations_user_id = outsider
        self._rows([("pending", "profile", 0, None)])
        self._check()
        incident = self._incidents("latency")
        self.assertEqual(incident.user_id, self.env.ref("base.user_admin"))

    def test_error_rate_spike(self):
        self.backend.latency_alert_minutes = 0
        self.hour = fields.Datetime.now() - timedelta(minutes=30)
        self._rows([("failed", "profile", i, None) for i in range(4)])
        self._check()
        self.assertFalse(self._incidents("error_rate"), "too few to mean anything")
        self._rows([("failed", "profile", 5, None), ("sent", "profile", 6, 1.0)])
        self._check()
        incident = self._incidents("error_rate")
        self.assertEqual(len(incident), 1)
        self.assertIn("83%", incident.message)

    def test_rate_limited_too_long(self):
        self.backend.paused_until = fields.Datetime.now() + timedelta(minutes=2)
        self._check()
        self.assertTrue(self.backend.rate_limited_since)
        self.assertFalse(self._incidents("rate_limit"), "a short pause is pacing")
        self.backend.rate_limited_since = fields.Datetime.now() - timedelta(hours=2)
        self._check()
        incident = self._incidents("rate_limit")
        self.assertEqual(incident.user_id, self.ops_user)
        self.backend.paused_until = False
        self._check()
        self.assertEqual(incident.state, "closed")
        self.assertFalse(self.backend.rate_limited_since)

    # --------------------------------------------------------- exception queue
    def _exception(self, category="data"):
        return self.env["esp.sync.exception"]._esp_record(
            self.backend,
            self.customer,
            EspError("Invalid phone number", category=category, code="400"),
            stream="profile",
        )

    def test_exception_queue_actions(self):
        exception = self._exception()
        self.assertIn("Fix the record", exception.what_to_do)
        binding = self.env["esp.sync.binding"]._esp_get(self.backend, self.customer)
        binding.sudo().external_id = "01HXKLAVIYO"
        self.assertEqual(exception.external_id, "01HXKLAVIYO")
        self.assertEqual(self.customer.esp_exception_count, 1)
        action = self.customer.action_esp_open_exceptions()
        self.assertEqual(
            self.env["esp.sync.exception"].search(action["domain"]), exception
        )
        mine = exception.with_user(self.ops_user)
        mine.action_assign_to_me()
        self.assertEqual(exception.user_id, self.ops_user)
        action = mine.action_ignore_wizard()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.ops_user)
            .with_context(**action["context"])
            .create({"reason": "Test customer"})
        )
        wizard.action_confirm()
        self.assertEqual(exception.state, "ignored")
        self.assertEqual(exception.ignore_reason, "Test customer")
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.esp_exception_count, 0)

    def test_exception_actions_are_for_managers(self):
        exception = self._exception().with_user(self.viewer)
        self.assertTrue(exception.what_to_do)
        for action in (
            exception.action_retry,
            exception.action_ignore,
            exception.action_ignore_wizard,
            exception.action_assign_to_me,
        ):
            with self.assertRaises(AccessError):
                action()

    def test_company_users_see_their_company_only(self):
        backend_b = self._other_company_backend()
        self._rows([("sent", "profile", 1, 3.0)])
        self._rows([("sent", "profile", 1, 3.0)], backend=backend_b)
        self.env["esp.sync.exception"]._esp_record(
            backend_b, self.customer, EspError("Bad", category="data")
        )
        self._exception()
        backend_b.paused_until = fields.Datetime.now() + timedelta(minutes=5)
        backend_b.rate_limited_since = fields.Datetime.now() - timedelta(hours=2)
        self.env["esp.backend"]._cron_check_health()
        env = self.env(user=self.viewer)
        both = [("backend_id", "in", (self.backend + backend_b).ids)]
        self.assertEqual(env["esp.sync.health"].search(both).backend_id, self.backend)
        self.assertEqual(
            env["esp.sync.exception"].search(both).backend_id, self.backend
        )
        self.assertFalse(env["esp.sync.incident"].search(both))
        self.assertTrue(
            self.env["esp.sync.incident"].search([("backend_id", "=", backend_b.id)])
        )

    # ----------------------------------------------------------------- views
    def test_views_load(self):
        for xmlid in (
            "esp_sync.action_esp_sync_health",
            "esp_sync.action_esp_sync_incident",
            "esp_sync.action_esp_sync_exception",
            "esp_sync.action_esp_backend",
        ):
            action = self.env.ref(xmlid)
            views = [(False, mode) for mode in action.view_mode.split(",")]
            result = (
                self.env[action.res_model]
                .with_user(self.ops_user)
                .get_views(views + [(False, "search")])
            )
            for mode in action.view_mode.split(","):
                self.assertIn(mode, result["views"])
        self.env["esp.sync.exception.ignore"].get_views([(False, "form")])
        self.env["res.partner"].get_views([(False, "form")])
        self.env["sale.order"].get_views([(False, "form")])
