# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""SMS marketing consent: Odoo -> jobs -> Klaviyo and Dotdigital (sandbox).

One sandbox for the three ESPs: the SMS opt-in reaches Klaviyo and
Dotdigital with the E.164 number, its withdrawal too; an unusable number is
a marketing exception and reaches no ESP; Mailchimp never hears of SMS.
"""

import json

from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter

from .common import use_shared_specs
from .mailchimp_common import (
    AUDIENCE,
    MAILCHIMP_KEY,
    EspSyncCase,
    MailchimpSandboxMixin,
)

KEY = "pk_sandbox_sms_odoo"
DD_USER = "apiuser-sandbox-sms@apiconnector.com"
NUMBER = "+32475123456"


@tagged("post_install", "-at_install")
class TestSmsConsentSandbox(MailchimpSandboxMixin, EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sandbox = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sandbox.stop)
        cls.backend.write({"base_url": cls.sandbox.url + "/klaviyo", "api_key": KEY})
        cls.dd = cls.env["esp.backend"].create(
            {
                "name": "Dotdigital SMS",
                "provider": "dotdigital",
                "company_id": cls.company.id,
                "base_url": cls.sandbox.base_url("dotdigital"),
                "api_user": DD_USER,
                "api_secret": "sandbox-password",
                "dotdigital_address_book_id": "1",
            }
        )
        cls.mailchimp = cls._mailchimp_backend(
            cls.company, MAILCHIMP_KEY, AUDIENCE, "store-a"
        )
        cls.email = "ann.customer@example.com"
        cls.customer.with_context(esp_sync_no_capture=True).write(
            {"country_id": cls.env.ref("base.be").id}
        )

    def setUp(self):
        super().setUp()
        self._reset_sandbox()
        self.sandbox.configure(validate=True, job_seconds=0, log_bodies=True)
        dotdigital_adapter._fields_cache.clear()

    # ------------------------------------------------------------- helpers
    def _klaviyo(self):
        profiles = self.sandbox.state("klaviyo")[KEY]["profiles"].values()
        return next(p for p in profiles if p["email"] == self.email)

    def _contact(self):
        contacts = self.sandbox.state("dotdigital", DD_USER)["contacts"].values()
        return next(c for c in contacts if c["identifiers"]["email"] == self.email)

    def _contact_of(self, email):
        contacts = self.sandbox.state("dotdigital", DD_USER)["contacts"].values()
        return next(c for c in contacts if c["identifiers"]["email"] == email)

    def _sms_rows(self, backend):
        return self.events.search(
            [("backend_id", "=", backend.id), ("event_type", "=", "sms_consent")]
        )

    def _open_exceptions(self):
        return self.env["esp.sync.exception"].search(
            [("backend_id", "in", (self.backend + self.dd).ids), ("state", "=", "open")]
        )

    def _assert_mailchimp_untouched(self):
        self.assertFalse(self._sms_rows(self.mailchimp))
        bodies = [
            json.dumps(r.get("body") or {}).lower()
            for r in self.sandbox.requests("mailchimp")
        ]
        self.assertFalse([b for b in bodies if "sms" in b])

    def _sms_log(self, applied=False):
        """The SMS consent history: changes, or (``applied``) the rows that
        say which ESP applied them."""
        return self.env["esp.consent.log"].search(
            [
                ("partner_id", "=", self.customer.id),
                ("channel", "=", "sms"),
                ("event", "=" if applied else "!=", "applied"),
            ],
            order="id",
        )

    # ----------------------------------------------------------------- tests
    def test_sms_opt_in_and_opt_out_reach_klaviyo_and_dotdigital(self):
        # A typed national number: the contact exists first (profile).
        self.customer.write({"mobile": "0475 12.34.56"})
        self._run_jobs()
        self.assertEqual(self.customer.esp_sms_number, NUMBER)
        self.assertEqual(self._klaviyo()["phone_number"], NUMBER)

        self.customer.write({"esp_sms_opt_in": True})
        self.assertTrue(self.customer.esp_sms_consent_date)
        self._run_jobs()
        self.assertFalse(
            self._open_exceptions(), self._open_exceptions().mapped("message")
        )
        profile = self._klaviyo()
        self.assertEqual(profile["phone_number"], NUMBER)
        self.assertEqual(profile["subscriptions"]["sms"]["consent"], "SUBSCRIBED")
        self.assertNotEqual(profile["subscriptions"]["email"]["consent"], "SUBSCRIBED")
        contact = self._contact()
        self.assertEqual(contact["identifiers"]["mobileNumber"], NUMBER[1:])
        self.assertEqual(contact["channelProperties"]["sms"], {"status": "subscribed"})
        self.assertFalse(contact["lists"], "email: still outside the marketing book")
        self.assertEqual(set(self._sms_rows(self.backend).mapped("state")), {"sent"})
        self.assertEqual(set(self._sms_rows(self.dd).mapped("state")), {"sent"})
        log = self._sms_log()
        self.assertEqual(log.mapped("event"), ["opt_in"])
        self.assertIn(NUMBER, log.note)
        applied = self._sms_log(applied=True)
        self.assertEqual(applied.backend_id, self.backend | self.dd)
        self.assertEqual(set(applied.mapped("note")), {f"subscribed {NUMBER}"})

        # The withdrawal reaches both; email consent is left alone.
        self.customer.write({"esp_sms_opt_in": False})
        self.assertTrue(self.customer.esp_sms_withdrawn_at)
        self._run_jobs()
        self.assertFalse(self._open_exceptions())
        profile = self._klaviyo()
        self.assertEqual(profile["subscriptions"]["sms"]["consent"], "UNSUBSCRIBED")
        self.assertNotEqual(
            profile["subscriptions"]["email"]["consent"], "UNSUBSCRIBED"
        )
        contact = self._contact()
        self.assertEqual(
            contact["channelProperties"]["sms"], {"status": "unsubscribed"}
        )
        self.assertEqual(self._sms_log().mapped("event"), ["opt_in", "opt_out"])
        self.assertFalse(
            self.env["mail.blacklist"].search([("email", "=", self.email)])
        )
        self._assert_mailchimp_untouched()

    def test_invalid_number_is_a_marketing_exception_and_reaches_no_esp(self):
        mark = self.sandbox.requests("klaviyo")
        mark = mark[-1]["id"] if mark else 0
        self.customer.write(
            {"mobile": "call me", "esp_sms_opt_in": True, "esp_marketing_opt_in": True}
        )
        self._run_jobs()
        exceptions = self._open_exceptions()
        self.assertEqual(exceptions.backend_id, self.backend + self.dd)
        self.assertEqual(set(exceptions.mapped("team")), {"marketing"})
        self.assertEqual(set(exceptions.mapped("category")), {"data"})
        self.assertEqual(set(exceptions.mapped("code")), {"sms_number_invalid"})
        self.assertIn("mobile number cannot be used", exceptions[0].message)
        self.assertIn("digits", exceptions[0].message)
        # Email consent went through; no SMS consent anywhere.
        profile = self._klaviyo()
        self.assertEqual(profile["subscriptions"]["email"]["consent"], "SUBSCRIBED")
        self.assertEqual(profile["subscriptions"]["sms"]["consent"], "NEVER_SUBSCRIBED")
        self.assertFalse(profile["phone_number"])
        contact = self._contact()
        self.assertEqual(contact["channelProperties"]["email"]["status"], "subscribed")
        self.assertNotIn("sms", contact["channelProperties"])
        sms_bodies = [
            r
            for r in self.sandbox.requests("klaviyo", mark)
            if "sms" in json.dumps(r.get("body") or {})
        ]
        self.assertFalse(sms_bodies)
        self.assertEqual(
            set(
                (self._sms_rows(self.backend) + self._sms_rows(self.dd)).mapped("state")
            ),
            {"failed"},
        )
        # The email consent delivered after it did not close it.
        self.assertEqual(len(exceptions), 2)

        # Marketing fixes the number and retries: it goes, the exception closes.
        self.assertIn("Not usable", self.customer.esp_sms_number)
        self.customer.write({"mobile": "+32 (0)475 12 34 56"})
        self.assertEqual(self.customer.esp_sms_number, NUMBER)
        exceptions.action_retry()
        self._run_jobs()
        self.assertFalse(
            self._open_exceptions(), self._open_exceptions().mapped("message")
        )
        self.assertEqual(
            self._klaviyo()["subscriptions"]["sms"]["consent"], "SUBSCRIBED"
        )
        self.assertEqual(
            self._contact()["channelProperties"]["sms"]["status"], "subscribed"
        )
        self._assert_mailchimp_untouched()

    def test_a_prospect_with_only_an_sms_opt_in_is_in_scope(self):
        """No order and no email opt-in: the SMS opt-in alone brings the
        person into the default scope, never dropped silently."""
        prospect = self.env["res.partner"].create(
            {
                "name": "Pat Prospect",
                "email": "pat@example.com",
                "mobile": "0475 65 43 21",
                "country_id": self.env.ref("base.be").id,
            }
        )
        self.assertFalse(self.backend._esp_in_scope(prospect))
        prospect.write({"esp_sms_opt_in": True})
        self.assertTrue(self.backend._esp_in_scope(prospect))
        self._run_jobs()
        rows = self.events.search(
            [("res_id", "=", prospect.id), ("event_type", "=", "sms_consent")]
        )
        self.assertEqual(
            set(rows.backend_id.mapped("provider")), {"klaviyo", "dotdigital"}
        )
        self.assertEqual(set(rows.mapped("state")), {"sent"})
        contact = self._contact_of("pat@example.com")
        self.assertEqual(contact["channelProperties"]["sms"]["status"], "subscribed")
        self.assertFalse(contact["lists"], "email: outside the marketing book")

    def test_no_sms_row_without_opt_in(self):
        self.customer.write({"mobile": "+32 475 12 34 56"})
        self.assertFalse(self._sms_rows(self.backend) + self._sms_rows(self.dd))

    def test_sms_stop_in_klaviyo_reaches_odoo_and_dotdigital(self):
        self.customer.write(
            {"mobile": "+32 475 12 34 56", "esp_marketing_opt_in": True}
        )
        self._run_jobs()
        self.customer.write({"esp_sms_opt_in": True})
        self._run_jobs()
        self.assertEqual(
            self._contact()["channelProperties"]["sms"]["status"], "subscribed"
        )
        klaviyo_rows = len(self._sms_rows(self.backend))

        # The person replies STOP to a Klaviyo text; the consent poll reads it.
        self.sandbox.action("klaviyo", "sms_stop", email=self.email, account=KEY)
        self.assertIn("1 partners updated", self.backend._esp_poll_consent())
        self.assertFalse(self.customer.esp_sms_opt_in)
        self.assertTrue(self.customer.esp_sms_withdrawn_at)
        log = self._sms_log()
        self.assertEqual(log.mapped("event"), ["opt_in", "esp_opt_out"])
        self.assertEqual(log[-1].backend_id, self.backend)
        self.assertIn("INBOUND_MESSAGE", log[-1].note)
        self._run_jobs()
        # Dotdigital hears it; Klaviyo is not told its own news back.
        self.assertEqual(
            self._contact()["channelProperties"]["sms"]["status"], "unsubscribed"
        )
        self.assertEqual(len(self._sms_rows(self.backend)), klaviyo_rows)
        # Email consent is untouched everywhere.
        self.assertTrue(self.customer.esp_marketing_opt_in)
        self.assertFalse(
            self.env["mail.blacklist"].search([("email", "=", self.email)])
        )
        self.assertEqual(
            self._klaviyo()["subscriptions"]["email"]["consent"], "SUBSCRIBED"
        )
        self.assertEqual(
            self._contact()["channelProperties"]["email"]["status"], "subscribed"
        )
        # Read again, nothing is news.
        self.assertIn("0 partners updated", self.backend._esp_poll_consent())
        self.assertFalse(self._open_exceptions())
        self._assert_mailchimp_untouched()

    def test_unheard_sms_stop_is_never_overwritten_by_an_opt_in(self):
        self.customer.write({"mobile": "+32 475 12 34 56"})
        self._run_jobs()
        self.customer.write({"esp_sms_opt_in": True})
        self._run_jobs()
        # STOP in Klaviyo; before any poll, a new number re-sends the opt-in.
        self.sandbox.action("klaviyo", "sms_stop", email=self.email, account=KEY)
        self.customer.write({"mobile": "+32 475 99 88 77"})
        self._run_jobs()
        self.assertEqual(
            self._klaviyo()["subscriptions"]["sms"]["consent"], "UNSUBSCRIBED"
        )
        self.assertFalse(self.customer.esp_sms_opt_in)
        log = self._sms_log()
        self.assertEqual(log.mapped("event"), ["opt_in", "esp_opt_out"])
        self.assertEqual(log[-1].source, "esp_read")
        row = self._sms_rows(self.backend).sorted("id")[-1]
        self.assertEqual(row.state, "skipped")
        self.assertIn("SMS opt-out Odoo had not heard of", row.note)
        # Dotdigital hears the opt-out.
        self.assertEqual(
            self._contact()["channelProperties"]["sms"]["status"], "unsubscribed"
        )
        self.assertFalse(self._open_exceptions())

    def test_preview_shows_the_sms_request(self):
        self.customer.write({"mobile": "0475 12 34 56", "esp_sms_opt_in": True})
        wizard = self.env["esp.sync.preview"].create(
            {
                "backend_id": self.backend.id,
                "partner_id": self.customer.id,
                "event_type": "sms_consent",
            }
        )
        wizard.action_preview()
        self.assertIn("POST /api/profile-subscription-bulk-create-jobs", wizard.result)
        self.assertIn(NUMBER, wizard.result)
        wizard.backend_id = self.mailchimp
        wizard.action_preview()
        self.assertIn("no SMS consent", wizard.result)
