# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import responses

from odoo.api import call_kw
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import mute_logger

from .common import EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin
from .test_security import KLAVIYO_400

FORBIDDEN_PATHS = (
    "message_ids.body",
    "bank_ids.acc_number",
    "user_ids.device_ids.ip_address",
    "user_ids.groups_id.name",
    "user_ids.totp_secret",
    "user_ids.api_key_ids",
    "vat",
    "comment",
    "user_id.partner_id.email",
    "x_bank_id",
)
FORBIDDEN_DOMAINS = (
    "[('user_ids.totp_secret', '!=', False)]",
    "[('user_ids.api_key_ids', '!=', False)]",
    "[('bank_ids.acc_number', '=', 'FR76')]",
    "[('message_ids.body', 'ilike', 'refund')]",
    "[('sale_order_ids', 'any', [('partner_id.bank_ids.acc_number', '=', '1')])]",
    "['|', ('city', '=', 'York'), ('comment', 'ilike', 'vip')]",
)


class TestRights(KlaviyoHttpMixin, EspSyncCase):
    """Rights are checked on the server: every action, every mapping source,
    every routing domain, every sync state."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        group = cls.env.ref
        cls.company_b = cls.env["res.company"].create({"name": "Rights Brand B"})
        cls.mailchimp = cls.env["esp.backend"].create(
            {
                "name": "Mailchimp test",
                "provider": "mailchimp",
                "api_key": "key-us1",
                "mailchimp_list_id": "L1",
                "mailchimp_store_id": "S1",
                "active": False,
            }
        )
        cls.viewer = cls.env["res.users"].create(
            {
                "name": "Sales Clerk",
                "login": "esp_rights_clerk",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            group("esp_sync.group_esp_sync_user").id,
                            group("sales_team.group_sale_salesman_all_leads").id,
                        ],
                    )
                ],
            }
        )
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Ops Manager",
                "login": "esp_rights_ops",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            group("esp_sync.group_esp_sync_manager").id,
                            group("sales_team.group_sale_salesman_all_leads").id,
                        ],
                    )
                ],
            }
        )
        cls.user_b = cls.env["res.users"].create(
            {
                "name": "Brand B clerk",
                "login": "esp_rights_b",
                "company_id": cls.company_b.id,
                "company_ids": [(6, 0, cls.company_b.ids)],
                "groups_id": [(6, 0, [group("esp_sync.group_esp_sync_user").id])],
            }
        )

    def _failed_state(self):
        """An order, a failed ledger row, its exception and binding."""
        order = self._order()
        self.customer.write({"city": "York"})
        with self._mock() as rsps, mute_logger("odoo.addons.esp_sync"):
            for path in ("profile-import", "events"):
                rsps.add(
                    responses.POST,
                    f"{KLAVIYO_URL}/api/{path}",
                    status=400,
                    json=KLAVIYO_400,
                )
            self._run_jobs()
        events = self.events.search([("state", "=", "failed")])
        exception = self.env["esp.sync.exception"].search([("state", "=", "open")])
        binding = self.env["esp.sync.binding"].search([], limit=1)
        self.assertTrue(events and exception and binding)
        backfill = self.env["esp.backfill"].create(
            {"backend_id": self.backend.id, "scope": "profiles"}
        )
        return order, events, exception, binding, backfill

    def _rpc(self, user, record, method):
        return call_kw(record.with_user(user), method, [record.ids], {})

    def test_esp_user_rpc_calls_are_refused(self):
        order, events, exception, binding, backfill = self._failed_state()
        jobs = len(self.trap.enqueued_jobs)
        calls = [
            (self.mailchimp, "action_mailchimp_register_webhook"),
            (self.mailchimp, "action_mailchimp_setup_store"),
            (self.backend, "action_deliver_pending"),
            (self.backend, "action_test_connection"),
            (self.backend, "action_resync"),
            (self.customer, "action_esp_sync_now"),
            (order, "action_esp_sync_now"),
            (binding, "action_sync_now"),
            (exception, "action_retry"),
            (exception, "action_ignore"),
            (events[:1], "action_retry"),
            (backfill, "action_start"),
            (backfill, "action_pause"),
            (backfill, "action_resume"),
        ]
        for record, method in calls:
            with self.subTest(method=f"{record._name}.{method}"):
                with self.assertRaises(AccessError):
                    self._rpc(self.viewer, record, method)
        with self.assertRaises(AccessError):
            self.env["esp.backfill.wizard"].with_user(self.viewer).create(
                {"backend_id": self.backend.id}
            )
        wizard = self.env["esp.backfill.wizard"].create({"backend_id": self.backend.id})
        with self.assertRaises(AccessError):
            self._rpc(self.viewer, wizard, "action_start")
        self.assertEqual(len(self.trap.enqueued_jobs), jobs, "nothing was enqueued")
        self.assertEqual(set(events.mapped("state")), {"failed"})
        self.assertEqual(set(exception.mapped("state")), {"open"})
        self.assertEqual(backfill.state, "draft")

    def test_register_webhook_is_for_system_administrators(self):
        with self.assertRaises(AccessError):
            self._rpc(self.manager, self.mailchimp, "action_mailchimp_register_webhook")

    def test_manager_cannot_resend_another_company_order(self):
        order_b = (
            self.env["sale.order"]
            .with_company(self.company_b)
            .create({"partner_id": self.customer.id, "company_id": self.company_b.id})
        )
        with self.assertRaises(AccessError):
            self._rpc(self.manager, order_b, "action_esp_sync_now")
        backend_b = self.env["esp.backend"].create(
            {"name": "B", "provider": "klaviyo", "company_id": self.company_b.id}
        )
        for method in ("action_deliver_pending", "action_test_connection"):
            with self.assertRaises(AccessError):
                self._rpc(self.manager, backend_b, method)

    # ------------------------------------------------ mapping and routing
    def test_private_mapping_sources_are_refused(self):
        self.env["ir.model.fields"].create(
            {
                "name": "x_bank_id",
                "model_id": self.env.ref("base.model_res_partner").id,
                "field_description": "Main bank account",
                "ttype": "many2one",
                "relation": "res.partner.bank",
            }
        )
        for path in FORBIDDEN_PATHS:
            with self.subTest(path=path):
                with self.assertRaises(ValidationError) as caught:
                    self.env["esp.field.mapping"].create(
                        {
                            "backend_id": self.backend.id,
                            "field_path": path,
                            "esp_property": "Leak",
                        }
                    )
                self.assertIn("cannot be sent", str(caught.exception))
        for index, path in enumerate(
            ("country_id.code", "state_id.name", "user_id.name", "lang")
        ):
            self.env["esp.field.mapping"].create(
                {
                    "backend_id": self.backend.id,
                    "field_path": path,
                    "esp_property": f"Ok{index}",
                }
            )

    def _rule(self, domain):
        return self.env["esp.audience.rule"].create(
            {
                "name": "Rule",
                "backend_id": self.mailchimp.id,
                "list_id": "L2",
                "partner_domain": domain,
            }
        )

    def test_private_routing_domains_are_refused(self):
        for domain in FORBIDDEN_DOMAINS:
            with self.subTest(domain=domain):
                with self.assertRaises(ValidationError) as caught:
                    self._rule(domain)
                self.assertIn("cannot be used", str(caught.exception))
        rule = self._rule(
            "[('city', '=', 'Leeds'), "
            "('sale_order_ids', 'any', [('amount_total', '>=', 0)])]"
        )
        self._order()
        self.assertEqual(rule._esp_match(self.customer), self.customer)
        # Saved behind the constraint's back (SQL): it matches no one.
        self.env.cr.execute(
            "UPDATE esp_audience_rule SET partner_domain = %s WHERE id = %s",
            (FORBIDDEN_DOMAINS[0], rule.id),
        )
        rule.invalidate_recordset()
        self.assertFalse(rule._esp_match(self.customer))

    # ---------------------------------------------------------- sync state
    def test_sync_state_shows_only_the_user_companies(self):
        self.env["esp.sync.binding"].create(
            {
                "backend_id": self.backend.id,
                "res_model": "res.partner",
                "res_id": self.customer.id,
                "partner_id": self.customer.id,
                "stream": "profile",
                "state": "failed",
            }
        )
        self.assertEqual(self.customer.with_user(self.viewer).esp_sync_state, "failed")
        partner_b = self.customer.with_user(self.user_b)
        self.assertEqual(partner_b.esp_sync_state, "none")
        self.assertFalse(partner_b.esp_binding_ids)
