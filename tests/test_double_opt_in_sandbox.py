# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Double opt-in, end to end: Odoo -> jobs -> the three ESPs (sandbox) -> back.

One company with a Klaviyo (list set to double opt-in), a Mailchimp and a
Dotdigital backend, all with double opt-in, on the in-process sandbox
(requests validated against the vendors' OpenAPI documents). The sandbox's
``confirm_opt_in`` actions are the person clicking the confirmation link.
"""

import datetime

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.esp_sync.providers import events as ev
from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter
from odoo.addons.esp_sync.providers.mailchimp import adapter as mailchimp_adapter
from odoo.addons.esp_sync.providers.mailchimp.util import subscriber_hash

from .common import EspSyncCase, use_shared_specs

KLAVIYO_KEY = "pk_sandbox_double_opt_in"
MAILCHIMP_KEY = "sandboxdoi-us1"
AUDIENCE = "aud00001"
DD_USER = "apiuser-sandbox-doi@apiconnector.com"


@tagged("post_install", "-at_install")
class TestDoubleOptInSandbox(EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.write(
            {
                "base_url": cls.sb.url + "/klaviyo",
                "api_key": KLAVIYO_KEY,
                "double_opt_in": True,
            }
        )
        backends = cls.env["esp.backend"]
        cls.mailchimp = backends.create(
            {
                "name": "Mailchimp test",
                "provider": "mailchimp",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("mailchimp"),
                "api_key": MAILCHIMP_KEY,
                "mailchimp_list_id": AUDIENCE,
                "double_opt_in": True,
            }
        )
        cls.dotdigital = backends.create(
            {
                "name": "Dotdigital test",
                "provider": "dotdigital",
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url("dotdigital"),
                "api_user": DD_USER,
                "api_secret": "sandbox-password",
                "dotdigital_address_book_id": "1",
                "dotdigital_never_opted_in": "unsubscribed",
                "double_opt_in": True,
            }
        )
        cls.backends = cls.backend | cls.mailchimp | cls.dotdigital
        cls.email = "ann.customer@example.com"

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        mailchimp_adapter._merge_tags_cache.clear()
        dotdigital_adapter._fields_cache.clear()
        body = {
            "data": {
                "type": "list",
                "attributes": {"name": "Newsletter", "opt_in_process": "double_opt_in"},
            }
        }
        answer = self.backend._esp_adapter()._request("POST", "/api/lists", json=body)
        self.backend.klaviyo_list_id = answer["data"]["id"]

    # ------------------------------------------------------------- helpers
    def _klaviyo_profile(self):
        profiles = self.sb.state("klaviyo").get(KLAVIYO_KEY, {}).get("profiles", {})
        (profile,) = [p for p in profiles.values() if p["email"] == self.email]
        return profile

    def _klaviyo_consent(self):
        return self._klaviyo_profile()["subscriptions"]["email"]["consent"]

    def _mailchimp_status(self):
        members = self.sb.state("mailchimp", MAILCHIMP_KEY)["members"][AUDIENCE]
        return members[subscriber_hash(self.email)]["status"]

    def _dotdigital_status(self):
        contacts = self.sb.state("dotdigital", DD_USER)["contacts"].values()
        (contact,) = [c for c in contacts if c["identifiers"]["email"] == self.email]
        return contact["channelProperties"]["email"]["status"]

    def _states(self):
        """Each backend's double opt-in state of the customer's consent."""
        bindings = self.env["esp.sync.binding"].search(
            [
                ("partner_id", "=", self.customer.id),
                ("stream", "=", "consent"),
                ("backend_id", "in", self.backends.ids),
            ]
        )
        return {b.backend_id.provider: b.confirmation_state for b in bindings}

    def _log(self, event):
        return self.env["esp.consent.log"].search(
            [("partner_id", "=", self.customer.id), ("event", "=", event)]
        )

    def _poll(self):
        for backend in self.backends:
            backend._esp_poll_consent()

    def _blacklisted(self):
        return self.env["mail.blacklist"].search_count([("email", "=", self.email)])

    def _click(self, *providers):
        accounts = {
            "klaviyo": KLAVIYO_KEY,
            "mailchimp": MAILCHIMP_KEY,
            "dotdigital": DD_USER,
        }
        for provider in providers:
            self.sb.action(
                provider, "confirm_opt_in", email=self.email, account=accounts[provider]
            )

    def _opt_in(self):
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()

    # --------------------------------------------------------------- tests
    def test_opt_in_awaits_confirmation_and_is_never_an_opt_out(self):
        self._opt_in()
        self.assertTrue(self._klaviyo_profile()["pending_lists"])
        self.assertEqual(self._klaviyo_consent(), "NEVER_SUBSCRIBED")
        self.assertEqual(self._mailchimp_status(), "pending")
        self.assertEqual(self._dotdigital_status(), "pendingOptIn")
        awaiting = dict.fromkeys(("klaviyo", "mailchimp", "dotdigital"), "awaiting")
        self.assertEqual(self._states(), awaiting)
        requested = self._log("confirmation_requested")
        self.assertEqual(requested.backend_id, self.backends)
        # The polls read "not subscribed yet": nothing is an opt-out.
        self._poll()
        self._run_jobs()
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.esp_marketing_opt_in)
        self.assertFalse(self._blacklisted())
        self.assertFalse(self._log("esp_opt_out"))
        self.assertEqual(self._states(), awaiting)
        self.assertEqual(self._mailchimp_status(), "pending")
        self.assertEqual(self._dotdigital_status(), "pendingOptIn")

    def test_reconciliation_sees_no_difference_while_awaiting(self):
        self._opt_in()
        lines = self.env["esp.reconcile.line"]
        for backend in self.backends:
            consent = self.env["esp.sync.values"]._esp_consent(backend, self.customer)
            adapter = backend._esp_adapter()
            remote = adapter.read_profiles([self.email])[self.email]
            self.assertEqual(remote.consent, "never", backend.provider)
            self.assertEqual(
                lines._esp_consent_difference(backend, self.customer, consent, remote),
                [],
                f"{backend.provider}: awaiting is not 'opt-in not delivered'",
            )
        # Without the wait, Odoo's opt-in missing at Klaviyo is a difference.
        self.env["esp.sync.binding"].search(
            [("partner_id", "=", self.customer.id)]
        ).write({"confirmation_state": False})
        consent = self.env["esp.sync.values"]._esp_consent(self.backend, self.customer)
        remote = self.backend._esp_adapter().read_profiles([self.email])[self.email]
        (line,) = lines._esp_consent_difference(
            self.backend, self.customer, consent, remote
        )
        self.assertEqual(line["fix"], "repush")

    def test_confirmation_read_back_by_the_poll(self):
        self._opt_in()
        self._click("klaviyo", "dotdigital")
        self._poll()
        states = self._states()
        self.assertEqual(states["klaviyo"], "confirmed")
        self.assertEqual(states["dotdigital"], "confirmed")
        self.assertEqual(states["mailchimp"], "awaiting", "not clicked there yet")
        self.assertEqual(self._klaviyo_consent(), "SUBSCRIBED")
        confirmed = self._log("esp_confirmed")
        self.assertEqual(confirmed.backend_id, self.backend | self.dotdigital)
        self.assertEqual(set(confirmed.mapped("source")), {"esp_poll"})
        # Mailchimp, clicked later, is read back by its poll too (the
        # webhook's fallback).
        self._click("mailchimp")
        self._poll()
        self.assertEqual(self._states()["mailchimp"], "confirmed")
        self.assertEqual(self._mailchimp_status(), "subscribed")

    def test_the_poll_stops_reading_after_thirty_days(self):
        self._opt_in()
        bindings = self.env["esp.sync.binding"].search(
            [("partner_id", "=", self.customer.id), ("stream", "=", "consent")]
        )
        bindings.write(
            {
                "confirmation_requested_at": fields.Datetime.subtract(
                    fields.Datetime.now(), days=31
                )
            }
        )
        self._click("klaviyo", "mailchimp", "dotdigital")
        self.sb.clear_requests()
        for backend in self.backends:
            self.assertEqual(backend._esp_read_confirmations(), 0)
        self.assertFalse(self.sb.requests(), "nobody read")
        self.assertEqual(set(self._states().values()), {"awaiting"})

    def test_mailchimp_subscribe_webhook_confirms(self):
        self._opt_in()
        self._click("mailchimp")
        form = {
            "type": "subscribe",
            "fired_at": "2026-11-22 10:00:00",
            "data[list_id]": AUDIENCE,
            "data[email]": self.email,
        }
        updates = self.mailchimp._esp_webhook_updates({}, form)
        partners = self.env["res.partner"].with_context(
            esp_consent_source="esp_webhook"
        )
        partners._esp_apply_consent_updates(self.mailchimp, updates)
        self.assertEqual(self._states()["mailchimp"], "confirmed")
        (confirmed,) = self._log("esp_confirmed")
        self.assertEqual(confirmed.source, "esp_webhook")
        self.assertEqual(confirmed.backend_id, self.mailchimp)
        self.assertEqual(self._states()["klaviyo"], "awaiting")

    def test_klaviyo_subscribed_webhook_confirms(self):
        """Klaviyo's signed "subscribed to email marketing" webhook, parsed
        as a "subscribed" update, confirms at once; for someone not awaiting
        it changes nothing."""
        self._opt_in()
        update = ev.ConsentUpdate(
            email=self.email,
            status="subscribed",
            occurred_at=datetime.datetime.now(datetime.timezone.utc),
        )
        partners = self.env["res.partner"].with_context(
            esp_consent_source="esp_webhook"
        )
        partners._esp_apply_consent_updates(self.backend, [update])
        self.assertEqual(self._states()["klaviyo"], "confirmed")
        self.assertEqual(self._states()["dotdigital"], "awaiting")
        (confirmed,) = self._log("esp_confirmed")
        self.assertEqual(confirmed.source, "esp_webhook")
        partners._esp_apply_consent_updates(self.backend, [update])
        self.assertEqual(len(self._log("esp_confirmed")), 1, "said once")

    def test_opt_out_while_pending_cancels_everywhere(self):
        self._opt_in()
        self.customer.write({"esp_marketing_opt_in": False})
        self._run_jobs()
        self.assertEqual(self._klaviyo_consent(), "UNSUBSCRIBED")
        self.assertFalse(self._klaviyo_profile()["pending_lists"])
        self.assertEqual(self._mailchimp_status(), "unsubscribed")
        self.assertEqual(self._dotdigital_status(), "unsubscribed")
        self.assertEqual(set(self._states().values()), {False})
        # A late click on an old confirmation email subscribes nobody.
        self._click("klaviyo", "mailchimp", "dotdigital")
        self._poll()
        self._run_jobs()
        self.assertEqual(self._klaviyo_consent(), "UNSUBSCRIBED")
        self.assertEqual(self._mailchimp_status(), "unsubscribed")
        self.assertEqual(self._dotdigital_status(), "unsubscribed")
        self.customer.invalidate_recordset()
        self.assertFalse(self.customer.esp_marketing_opt_in)
        self.assertFalse(self._log("esp_confirmed"))

    def test_dotdigital_needs_never_opted_in_unsubscribed(self):
        with self.assertRaises(ValidationError):
            self.dotdigital.dotdigital_never_opted_in = "neutral"

    def test_an_existing_contact_unsubscribed_by_policy_is_challenged(self):
        """A customer created before their opt-in (unsubscribed, the policy
        double opt-in needs) is asked to confirm: resubscribed with a
        challenge, pending until they click."""
        self.customer.write({"city": "York"})
        self._run_jobs()
        self.assertEqual(self._dotdigital_status(), "unsubscribed")
        self._opt_in()
        self.assertEqual(self._dotdigital_status(), "pendingOptIn")
        self.assertEqual(self._states()["dotdigital"], "awaiting")
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.esp_marketing_opt_in)
        self.assertFalse(self._blacklisted())
        self._click("dotdigital")
        self._poll()
        self.assertEqual(self._states()["dotdigital"], "confirmed")

    def test_without_double_opt_in_nothing_awaits(self):
        self.backends.write({"double_opt_in": False})
        self._opt_in()
        self.assertEqual(self._mailchimp_status(), "subscribed")
        self.assertEqual(self._dotdigital_status(), "subscribed")
        self.assertEqual(set(self._states().values()), {False})
        self.assertFalse(self._log("confirmation_requested"))
