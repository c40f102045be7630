# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from unittest.mock import patch

import responses

from odoo.exceptions import AccessError, ValidationError
from odoo.tools import mute_logger

from ..providers import EspError
from .common import KLAVIYO_KEY, EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin

LEAKING_PATHS = (
    "esp_binding_ids.backend_id.api_key",  # crosses esp.* models
    "esp_binding_ids.external_id",
    "signup_type",  # restricted to some groups
    "activity_type_icon",  # related through a restricted field
    "user_ids.api_key_ids.name",  # API keys
)
KLAVIYO_400 = {
    "errors": [
        {
            "status": 400,
            "code": "invalid",
            "title": "Invalid input.",
            "detail": "phone_number is not valid",
            "source": {"pointer": "/data/attributes/phone_number"},
        }
    ]
}


class TestSecurity(KlaviyoHttpMixin, EspSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Brand B"})
        cls.backend_b = cls.env["esp.backend"].create(
            {
                "name": "Klaviyo B",
                "provider": "klaviyo",
                "company_id": cls.company_b.id,
                "api_key": "pk_brand_b_secret",
            }
        )
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Ops Manager",
                "login": "esp_ops",
                "company_id": cls.company.id,
                "company_ids": [(6, 0, cls.company.ids)],
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("esp_sync.group_esp_sync_manager").id,
                            cls.env.ref("sales_team.group_sale_salesman_all_leads").id,
                        ],
                    )
                ],
            }
        )
        cls.viewer = cls.env["res.users"].create(
            {
                "name": "Sales Clerk",
                "login": "esp_clerk",
                "groups_id": [(6, 0, [cls.env.ref("esp_sync.group_esp_sync_user").id])],
            }
        )

    def test_credentials_readable_by_system_admins_only(self):
        backend = self.backend.with_user(self.manager)
        self.assertEqual(backend.name, "Klaviyo test")
        with self.assertRaises(AccessError):
            backend.read(["api_key"])
        self.assertNotIn("api_key", backend.fields_get())
        self.assertEqual(self.backend.api_key, KLAVIYO_KEY)  # admin

    def test_user_sees_status_but_cannot_configure(self):
        backend = self.backend.with_user(self.viewer)
        self.assertTrue(backend.pending_count >= 0)
        with self.assertRaises(AccessError):
            backend.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.env["esp.backend"].with_user(self.manager).create(
                {"name": "New", "provider": "klaviyo"}
            )

    def test_multi_company_records_are_isolated(self):
        visible = self.env["esp.backend"].with_user(self.manager).search([])
        self.assertIn(self.backend, visible)
        self.assertNotIn(self.backend_b, visible)
        partner_b = self.env["res.partner"].create(
            {
                "name": "Bob B",
                "email": "bob@example.com",
                "customer_rank": 1,
                "company_id": self.company_b.id,
            }
        )
        partner_b.write({"city": "Paris"})
        events_b = self.env["esp.sync.event"].search(
            [("res_id", "=", partner_b.id), ("res_model", "=", "res.partner")]
        )
        self.assertEqual(events_b.backend_id, self.backend_b)
        self.assertFalse(
            self.env["esp.sync.event"]
            .with_user(self.manager)
            .search([("id", "in", events_b.ids)])
        )

    def test_external_ids_are_per_company(self):
        values = self.env["esp.sync.values"]
        email = "ann.customer@example.com"
        self.assertNotEqual(
            values._esp_external_id(self.backend, email).split("-")[1],
            values._esp_external_id(self.backend_b, email).split("-")[1],
        )

    def test_job_arguments_carry_no_credentials(self):
        self.customer.write({"city": "York", "esp_marketing_opt_in": True})
        self._order()
        self.assertGreaterEqual(len(self.trap.calls), 3, "jobs were enqueued")
        for call in self.trap.calls:
            self.assertNotIn(KLAVIYO_KEY, repr(call.args) + repr(call.kwargs))
            self.assertNotIn(KLAVIYO_KEY, repr(call.properties))
        stored = (
            self.env["queue.job"]
            .search([])
            .mapped(lambda job: repr(job.args) + repr(job.kwargs) + (job.name or ""))
        )
        self.assertFalse([text for text in stored if KLAVIYO_KEY in text])

    # ------------------------------------------------ configuration: admins only
    def test_manager_cannot_redirect_or_reconfigure_backend(self):
        backend = self.backend.with_user(self.manager)
        for vals in (
            {"base_url": "https://attacker.example.com"},
            {"api_key": "pk_other"},
            {"company_id": self.company_b.id},
            {"provider": "mailchimp"},
            {"name": "Renamed"},
        ):
            with self.assertRaises(AccessError, msg=str(vals)):
                backend.write(vals)
        self.assertEqual(self.backend.base_url, KLAVIYO_URL)
        # ... but still tests the connection and delivers pending changes.
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/accounts",
                json={"data": [{"type": "account", "id": "ACC1", "attributes": {}}]},
            )
            result = backend.action_test_connection()
        self.assertIn("ACC1", result["params"]["message"])
        self.assertTrue(backend.action_deliver_pending())

    def test_internal_backend_writes_work_for_a_manager(self):
        class Adapter:
            def fetch_consent_updates(self, since):
                return []

        backend = self.backend.with_user(self.manager)
        with patch.object(
            type(self.backend), "_esp_audience_adapters", return_value=[Adapter()]
        ):
            backend._esp_poll_consent()
        self.assertTrue(self.backend.last_consent_poll_at)

    def test_field_mappings_that_leak_are_refused(self):
        mappings = self.env["esp.field.mapping"]
        for path in LEAKING_PATHS:
            with self.assertRaises(ValidationError, msg=path):
                mappings.create(
                    {
                        "backend_id": self.backend.id,
                        "field_path": path,
                        "esp_property": "Leak",
                    }
                )
        # Ordinary paths, computed and recursive ones included, still work.
        for prop, path in enumerate(
            ("parent_id.name", "category_id", "commercial_partner_id.name", "city")
        ):
            mappings.create(
                {
                    "backend_id": self.backend.id,
                    "field_path": path,
                    "esp_property": f"P{prop}",
                }
            )
        with self.assertRaises(AccessError):
            mappings.with_user(self.manager).create(
                {
                    "backend_id": self.backend.id,
                    "field_path": "city",
                    "esp_property": "City",
                }
            )
        with self.assertRaises(AccessError):
            mappings.search([], limit=1).with_user(self.manager).write(
                {"field_path": "name"}
            )

    def test_leaking_mapping_is_refused_at_delivery(self):
        mapping = self.env["esp.field.mapping"].create(
            {"backend_id": self.backend.id, "field_path": "city", "esp_property": "C"}
        )
        # Saved before the check existed (or written in SQL).
        self.env.cr.execute(
            "UPDATE esp_field_mapping SET field_path = %s WHERE id = %s",
            (LEAKING_PATHS[0], mapping.id),
        )
        mapping.invalidate_recordset()
        with self.assertRaises(EspError) as caught:
            mapping._esp_values(self.customer)
        self.assertEqual(caught.exception.code, "mapping_invalid")
        self.assertNotIn(KLAVIYO_KEY, str(caught.exception))

    # --------------------------------------------- ledger and bindings: read-only
    def _fail_profile(self, city="York"):
        """Deliver the customer's profile against a 400: an open exception."""
        self.customer.write({"city": city})
        with self._mock() as rsps, mute_logger("odoo.addons.esp_sync"):
            self._klaviyo_ok(rsps)
            rsps.replace(
                responses.POST,
                f"{KLAVIYO_URL}/api/profile-import",
                status=400,
                json=KLAVIYO_400,
            )
            self._run_jobs()
        return self.env["esp.sync.exception"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )

    def test_manager_cannot_move_ledger_rows_or_bindings(self):
        exception = self._fail_profile()
        event = exception.event_ids[:1]
        binding = self.env["esp.sync.binding"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        self.assertTrue(event and binding)
        for record in (event, binding):
            for vals in (
                {"backend_id": self.backend_b.id},
                {"res_id": self.viewer.partner_id.id},
                {"res_model": "res.users"},
            ):
                with self.assertRaises(AccessError, msg=f"{record} {vals}"):
                    record.with_user(self.manager).write(vals)
        self.assertEqual(event.backend_id, self.backend)
        # A plain user may not even retry.
        with self.assertRaises(AccessError):
            event.with_user(self.viewer).action_retry()
        with self.assertRaises(AccessError):
            exception.with_user(self.viewer).action_retry()

    def test_manager_retries_and_ignores_exceptions(self):
        exception = self._fail_profile()
        self.assertEqual(exception.state, "open")
        failed = exception.event_ids
        self.assertTrue(failed)
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            exception.with_user(self.manager).action_retry()
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 1)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(set(failed.mapped("state")), {"sent"})

        exception = self._fail_profile("Hull").filtered(lambda e: e.state == "open")
        self.assertTrue(exception)
        exception.with_user(self.manager).action_ignore()
        self.assertEqual(exception.state, "ignored")
        self.assertEqual(set(exception.event_ids.mapped("state")), {"skipped"})
        # The ledger's own Retry button works for a manager too.
        events = exception.event_ids
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            events.with_user(self.manager).action_retry()
            self._run_jobs()
        self.assertEqual(set(events.mapped("state")), {"sent"})

    def test_manager_presses_sync_now_on_partner_order_and_binding(self):
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self.customer.with_user(self.manager).action_esp_sync_now()
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 1)
        order = self._order()
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
        placed = self.events.search(
            [("group_ref", "=", f"sale.order,{order.id}")]
        ).filtered(lambda e: e.event_type == "order_placed")
        self.assertEqual(placed.state, "sent")
        placed.state = "failed"
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            order.with_user(self.manager).action_esp_sync_now()
            self._run_jobs()
            metrics = [self._metric(b) for b in self._bodies(rsps, "/api/events")]
        self.assertIn("Placed Order", metrics)
        self.assertEqual(placed.state, "sent")
        binding = self.env["esp.sync.binding"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        binding.last_payload_hash = "stale"
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            binding.with_user(self.manager).action_sync_now()
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 1)

    # ------------------------------------------------------------- backfill
    def test_manager_starts_backfill_of_own_company_only(self):
        wizard = (
            self.env["esp.backfill.wizard"]
            .with_user(self.manager)
            .create({"backend_id": self.backend.id, "scope": "profiles"})
        )
        action = wizard.action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        self.assertEqual(run.state, "running")
        self.assertTrue(self.trap.enqueued_jobs)
        self.assertTrue(run.total_count >= 1)
        with self.assertRaises(AccessError):
            self.env["esp.backfill"].with_user(self.manager).create(
                {"backend_id": self.backend_b.id, "scope": "profiles"}
            )

    def test_backfill_of_other_company_is_invisible(self):
        run_b = self.env["esp.backfill"].create(
            {"backend_id": self.backend_b.id, "scope": "profiles"}
        )
        batch_b = self.env["esp.backfill.batch"].create({"backfill_id": run_b.id})
        run_a = self.env["esp.backfill"].create(
            {"backend_id": self.backend.id, "scope": "profiles"}
        )
        runs = self.env["esp.backfill"].with_user(self.manager)
        self.assertEqual(runs.search([("id", "in", (run_a | run_b).ids)]), run_a)
        self.assertFalse(
            self.env["esp.backfill.batch"]
            .with_user(self.manager)
            .search([("id", "=", batch_b.id)])
        )
        with self.assertRaises(AccessError):
            run_b.with_user(self.manager).read(["state"])

    # --------------------------------------------------------------- webhooks
    def test_webhook_url_token_is_not_the_signing_secret(self):
        backend = self.backend.sudo()
        self.assertTrue(backend.webhook_secret and backend.webhook_signing_secret)
        self.assertNotEqual(backend.webhook_secret, backend.webhook_signing_secret)
        settings = self.backend._esp_settings()
        self.assertEqual(settings.webhook_secret, backend.webhook_signing_secret)
        with self.assertRaises(AccessError):
            self.backend.with_user(self.manager).read(["webhook_signing_secret"])
