# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .common import EspSyncCase
from .klaviyo_common import KlaviyoHttpMixin

# Each was once rewritten by Odoo's normaliser into another, valid-looking
# address, or has a shape no mail server delivers to.
REWRITTEN = (
    "a b@c.com",
    "a@b@c.com",
    "a,b@c.com",
    "mailto:user@example.com",
    "user@example.com<script>",
    "user@exa mple.com",
    "Ann <ann@example.com>",
)
UNDELIVERABLE = ("foo@bar..com", "user@-bad-.com", "user@[127.0.0.1]")


class TestTypedEmail(KlaviyoHttpMixin, EspSyncCase):
    """Only the address the person typed is ever sent, never a rewrite of it."""

    def _customer(self, email):
        return self.env["res.partner"].create(
            {
                "name": "Typed Address",
                "email": email,
                "customer_rank": 1,
                "esp_marketing_opt_in": True,
            }
        )

    def _exceptions(self, partner):
        return self.env["esp.sync.exception"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )

    def test_rewritten_or_undeliverable_addresses_reach_no_esp(self):
        for email in REWRITTEN + UNDELIVERABLE:
            with self.subTest(email=email):
                partner = self._customer(email)
                with self._mock() as rsps:
                    self._klaviyo_ok(rsps)
                    self._run_jobs()
                    self.assertFalse(rsps.calls, "nothing reaches the ESP")
                exceptions = self._exceptions(partner)
                self.assertEqual(
                    set(exceptions.mapped("stream")), {"profile", "consent"}
                )
                self.assertEqual(set(exceptions.mapped("code")), {"email_invalid"})
                self.assertEqual(set(exceptions.mapped("category")), {"data"})
                self.assertIn(email, exceptions[0].message)
                ledger = self.events.search([("res_id", "=", partner.id)])
                self.assertNotIn("sent", ledger.mapped("state"))

    def test_edit_into_a_rewritten_address_is_an_exception(self):
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self.customer.write({"esp_marketing_opt_in": True})
            self._run_jobs()
        self.customer.write({"email": "mailto:ann.customer@example.com"})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._klaviyo_email_change_ok(rsps)
            self._run_jobs()
            self.assertFalse(rsps.calls)
        self.assertIn("email_invalid", self._exceptions(self.customer).mapped("code"))

    def test_case_and_surrounding_spaces_are_fine(self):
        partner = self._customer("  Zoe.Typed@Example.COM ")
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            (body,) = self._bodies(rsps, "/api/profile-import")
        self.assertEqual(body["data"]["attributes"]["email"], "zoe.typed@example.com")
        self.assertFalse(self._exceptions(partner))
