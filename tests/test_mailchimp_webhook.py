# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo.tests import HttpCase, tagged

from odoo.addons.esp_sync.providers import events as ev

from .common import EspSyncCase
from .mailchimp_common import AUDIENCE, MAILCHIMP_KEY, MailchimpSandboxMixin


@tagged("post_install", "-at_install")
class TestMailchimpWebhook(MailchimpSandboxMixin, EspSyncCase, HttpCase):
    """Mailchimp owns subscription status; Odoo learns it and never undoes it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_mailchimp()

    def setUp(self):
        super().setUp()
        self._reset_sandbox()
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", self.base_url()
        )
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()  # the opted-in member exists in Mailchimp
        self.assertEqual(self._member(self.customer.email)["status"], "subscribed")

    def _url(self, token=None):
        secret = token or self.mailchimp.sudo().webhook_secret
        return f"/esp_sync/webhook/{self.mailchimp.id}/{secret}"

    def _unsubscribe_form(self, email="ann.customer@example.com"):
        """A form-encoded unsubscribe, as Mailchimp posts it."""
        return {
            "type": "unsubscribe",
            "fired_at": "2026-11-22 10:00:00",
            "data[action]": "unsub",
            "data[reason]": "manual",
            "data[id]": "8a25ff1d98",
            "data[list_id]": AUDIENCE,
            "data[email]": email,
            "data[email_type]": "html",
            "data[merges][EMAIL]": email,
            "data[merges][FNAME]": "Ann",
        }

    def _blacklisted(self):
        return self.env["mail.blacklist"].search_count(
            [("email", "=", "ann.customer@example.com")]
        )

    def test_webhook_post_unsubscribes_the_partner(self):
        response = self.url_open(self._url(), data=self._unsubscribe_form())
        self.assertEqual(response.status_code, 200)
        self.customer.invalidate_recordset()
        self.assertEqual(self._blacklisted(), 1)
        self.assertFalse(self.customer.esp_marketing_opt_in)
        self.assertEqual(self.customer._esp_consent_status(), "unsubscribed")
        self._assert_consent_logged("esp_webhook")

    def _assert_consent_logged(self, source):
        """Consent evidence of the real path: one ESP opt-out, its source."""
        rows = self.env["esp.consent.log"].search(
            [("partner_id", "=", self.customer.id), ("event", "=", "esp_opt_out")]
        )
        self.assertEqual(rows.mapped("source"), [source])
        self.assertEqual(rows.backend_id, self.mailchimp)
        self.assertEqual(rows.email, "ann.customer@example.com")

    def test_cleaned_address_is_blacklisted(self):
        form = {
            "type": "cleaned",
            "fired_at": "2026-11-22 10:00:00",
            "data[list_id]": AUDIENCE,
            "data[campaign_id]": "",
            "data[reason]": "hard",
            "data[email]": "ann.customer@example.com",
        }
        response = self.url_open(self._url(), data=form)
        self.assertEqual(response.status_code, 200)
        self.customer.invalidate_recordset()
        self.assertEqual(self._blacklisted(), 1)
        self.assertFalse(self.customer.esp_marketing_opt_in)

    def test_wrong_token_is_404_and_changes_nothing(self):
        response = self.url_open(
            self._url("not-the-token"), data=self._unsubscribe_form()
        )
        self.assertEqual(response.status_code, 404)
        self.customer.invalidate_recordset()
        self.assertEqual(self._blacklisted(), 0)
        self.assertTrue(self.customer.esp_marketing_opt_in)

    def test_unsubscribe_in_mailchimp_then_odoo_edit_keeps_it(self):
        self.mailchimp.action_mailchimp_register_webhook()
        (hook,) = self.sandbox.state("mailchimp", MAILCHIMP_KEY)["webhooks"][
            AUDIENCE
        ].values()
        self.assertEqual(hook["sources"], {"user": True, "admin": True, "api": False})
        self.assertTrue(hook["events"]["unsubscribe"] and hook["events"]["cleaned"])
        self.sandbox.action("mailchimp", "unsubscribe", email=self.customer.email)
        self.assertTrue(self.sandbox.wait_webhooks(10))
        (sent,) = self.sandbox.webhooks()
        self.assertEqual(sent["status"], 200, sent)
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.esp_marketing_opt_in, "Odoo learnt it")
        self.assertEqual(self._blacklisted(), 1)
        # Odoo still owns the name and address: the edit reaches Mailchimp...
        self.sandbox.clear_requests()
        self.customer.write(
            {
                "street": "1 New Road",
                "city": "York",
                "zip": "10001",
                "state_id": self.env.ref("base.state_us_27").id,
                "country_id": self.env.ref("base.us").id,
            }
        )
        self._run_jobs()
        (put,) = self._member_puts()
        self.assertEqual(put["status"], 200)
        self.assertNotIn("status", put["body"], "an existing status is never sent")
        # A new member would be created unsubscribed: the opt-out travels.
        self.assertEqual(put["body"]["status_if_new"], "unsubscribed")
        member = self._member(self.customer.email)
        self.assertEqual(member["merge_fields"]["ADDRESS"]["city"], "York")
        # ...and the member stays unsubscribed.
        self.assertEqual(member["status"], "unsubscribed")
        self.assertEqual(len(self.sandbox.webhooks()), 1, "our write did not echo")

    def test_echoes_change_nothing(self):
        updates = [
            ev.ConsentUpdate(
                email="ann.customer@example.com",
                status="unsubscribed",
                occurred_at=datetime.datetime.now(datetime.timezone.utc),
                provider_ref=AUDIENCE,
            )
        ]
        partners = self.env["res.partner"]
        self.assertEqual(
            partners._esp_apply_consent_updates(self.mailchimp, updates), 1
        )
        ledger = self.events.search_count([])
        self.assertEqual(
            partners._esp_apply_consent_updates(self.mailchimp, updates),
            0,
            "an update matching Odoo's state is an echo",
        )
        self.assertEqual(self.events.search_count([]), ledger, "nothing recorded")
        self.assertEqual(self._blacklisted(), 1)
        # A second webhook call for the same unsubscribe answers 200, no change.
        response = self.url_open(self._url(), data=self._unsubscribe_form())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.events.search_count([]), ledger)

    def test_polling_is_the_fallback(self):
        self.sandbox.action("mailchimp", "unsubscribe", email=self.customer.email)
        self.mailchimp.last_consent_poll_at = datetime.datetime(2020, 1, 1)
        result = self.mailchimp._esp_poll_consent()
        self.assertIn("1 partners updated", result)
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.esp_marketing_opt_in)
        self.assertEqual(self._blacklisted(), 1)
        self._assert_consent_logged("esp_poll")
