# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError

from .common import KLAVIYO_KEY, EspSyncCase


class TestSecurity(EspSyncCase):
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
                    (6, 0, [cls.env.ref("esp_sync.group_esp_sync_manager").id])
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
        self.customer.write({"city": "York"})
        for call in self.trap.calls:
            self.assertNotIn(KLAVIYO_KEY, repr(call.args) + repr(call.kwargs))
            self.assertNotIn(KLAVIYO_KEY, repr(call.properties))
