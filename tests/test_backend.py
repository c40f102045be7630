# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import responses

from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import file_open

from .common import KLAVIYO_KEY, EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin


class TestBackend(KlaviyoHttpMixin, EspSyncCase):
    def test_defaults_follow_provider(self):
        mailchimp = self.env["esp.backend"].create(
            {"name": "MC", "provider": "mailchimp"}
        )
        dotdigital = self.env["esp.backend"].create(
            {"name": "DD", "provider": "dotdigital"}
        )
        self.assertEqual(self.backend.base_url, KLAVIYO_URL)
        self.assertEqual(self.backend.consent_master, "odoo")
        self.assertEqual(mailchimp.consent_master, "esp")
        self.assertEqual(dotdigital.base_url, "https://r1-api.dotdigital.com")
        self.assertEqual(self.backend.company_id, self.env.company)
        self.assertTrue(self.backend.webhook_secret, "a webhook token is generated")

    def test_settings_hide_credentials_in_repr(self):
        settings = self.backend._esp_settings()
        self.assertEqual(settings.api_key, KLAVIYO_KEY)
        self.assertNotIn(KLAVIYO_KEY, repr(settings))

    def test_invalid_partner_domain_rejected(self):
        with self.assertRaises(ValidationError):
            self.backend.partner_domain = "[('no_such_field', '=', 1)]"

    def test_partner_domain_excludes_suppliers_employees_company(self):
        supplier = self.env["res.partner"].create(
            {"name": "Supplier", "email": "s@example.com", "supplier_rank": 1}
        )
        employee = (
            self.env["res.users"]
            .create(
                {
                    "name": "Staff",
                    "login": "staff@example.com",
                    "email": "staff@example.com",
                }
            )
            .partner_id
        )
        company_partner = self.env.company.partner_id
        company_partner.write({"email": "shop@example.com", "customer_rank": 3})
        synced = self.backend._esp_in_scope(
            self.customer | supplier | employee | company_partner
        )
        self.assertEqual(synced, self.customer)

    def test_connection_button(self):
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/accounts",
                json={
                    "data": [
                        {
                            "type": "account",
                            "id": "ACC1",
                            "attributes": {
                                "contact_information": {
                                    "organization_name": "Shoe Shop"
                                }
                            },
                        }
                    ]
                },
            )
            action = self.backend.action_test_connection()
            self.assertEqual(
                rsps.calls[0].request.headers["Authorization"],
                f"Klaviyo-API-Key {KLAVIYO_KEY}",
            )
        self.assertEqual(action["params"]["type"], "success")

    def test_connection_failure_is_clear_and_secret_free(self):
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/accounts",
                status=401,
                json={
                    "errors": [
                        {
                            "status": 401,
                            "code": "not_authenticated",
                            "title": "Authentication failed",
                            # The ESP echoes the key: redaction must remove it.
                            "detail": "Incorrect authentication credentials: "
                            f"{KLAVIYO_KEY} is not a valid key.",
                        }
                    ]
                },
            )
            with self.assertRaises(UserError) as caught:
                self.backend.action_test_connection()
        self.assertIn("Klaviyo test", str(caught.exception))
        self.assertIn("Incorrect authentication credentials", str(caught.exception))
        self.assertNotIn(KLAVIYO_KEY, str(caught.exception))

    def test_settings_list_partner_categories_as_managed_tags(self):
        """Odoo owns only its categories' tags (archived ones included)."""
        categories = self.env["res.partner.category"]
        categories.create({"name": "Trade Fair 2026"})
        categories.create({"name": "Old Segment", "active": False})
        managed = self.backend._esp_settings().extra["managed_tags"]
        self.assertIn("Trade Fair 2026", managed)
        self.assertIn("Old Segment", managed)

    def test_first_consent_poll_reads_the_whole_history(self):
        self.assertFalse(self.backend.last_consent_poll_at)
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/profiles",
                json={"data": [], "links": {"next": None}},
            )
            self.backend._esp_poll_consent()
            filters = [call.request.params["filter"] for call in rsps.calls]
        self.assertTrue(filters)
        for text in filters:
            self.assertIn("2000-01-01T00:00:00", text)
        self.assertTrue(self.backend.last_consent_poll_at)

    def test_neutralize_deactivates_backends(self):
        with file_open("esp_sync/data/neutralize.sql") as sql:
            self.env.cr.execute(sql.read())
        self.env["esp.backend"].invalidate_model(["active"])
        self.assertFalse(self.backend.active)
