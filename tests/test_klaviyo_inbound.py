# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import hmac
import json
from datetime import timedelta

import responses

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin

SECRET = "whsec-esp-sync-test-0123456789"  # signing secret
TOKEN = "url-token-esp-sync-test-9876543210"  # webhook URL token
UNSUBSCRIBED = "event:klaviyo.unsubscribed_from_email_marketing"
CONTROLLER_LOGGER = "odoo.addons.esp_sync.controllers.main"


def klaviyo_webhook(email, topic=UNSUBSCRIBED, reason="", hook_id="WH1"):
    """A Klaviyo system webhook body, shaped as Klaviyo sends it."""
    now = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return {
        "data": [
            {
                "topic": topic,
                "external_id": "EVT1",
                "payload": {
                    "type": "event",
                    "id": "EVT1",
                    "attributes": {
                        "datetime": now,
                        "event_properties": {"reason": reason} if reason else {},
                    },
                    "included": [
                        {"type": "profile", "id": "P1", "attributes": {"email": email}}
                    ],
                },
            }
        ],
        "meta": {"klaviyo_webhook_id": hook_id, "timestamp": now},
    }


def sign(body, secret=SECRET, hook_id="WH1", raw=None):
    """Raw body and the headers Klaviyo signs it with (``raw``: sign those
    bytes as they are, with ``body["meta"]["timestamp"]``)."""
    raw = json.dumps(body).encode() if raw is None else raw
    timestamp = body["meta"]["timestamp"]
    signature = hmac.new(
        secret.encode(), raw + timestamp.encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Klaviyo-Webhook-Id": hook_id,
        "Klaviyo-Timestamp": timestamp,
        "Klaviyo-Signature": signature,
    }
    return raw, headers


@tagged("post_install", "-at_install")
class TestKlaviyoInbound(KlaviyoHttpMixin, EspSyncCase, HttpCase):
    """Unsubscribes made in Klaviyo reach Odoo (webhook, polling) and stick."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.write(
            {
                "webhook_secret": TOKEN,
                "webhook_signing_secret": SECRET,
                "klaviyo_list_id": "LIST1",
            }
        )
        cls.blacklist = cls.env["mail.blacklist"]

    def _url(self, backend=None, token=TOKEN):
        return f"/esp_sync/webhook/{(backend or self.backend).id}/{token}"

    def _post(self, body, url=None, **sign_kw):
        raw, headers = sign(body, **sign_kw)
        return self.url_open(url or self._url(), data=raw, headers=headers)

    def _blacklisted(self, email="ann.customer@example.com"):
        self.env.invalidate_all()
        return bool(self.blacklist.search([("email", "=", email)]))

    def _opt_in_and_sync(self):
        self.customer.write({"esp_marketing_opt_in": True})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.assertEqual(
                len(self._bodies(rsps, "/api/profile-subscription-bulk-create-jobs")),
                1,
            )

    # ---------------------------------------------------------------- webhook
    def test_signed_unsubscribe_blacklists_and_is_never_undone(self):
        self._opt_in_and_sync()
        response = self._post(klaviyo_webhook("Ann.Customer@example.com"))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(self._blacklisted())
        self.assertFalse(self.customer.esp_marketing_opt_in, "the opt-in is cleared")
        self.assertEqual(self.customer._esp_consent_status(), "unsubscribed")
        # Later Odoo changes, even ticking the opt-in again, never resubscribe.
        self.customer.write({"city": "York"})
        self.customer.write({"esp_marketing_opt_in": True})
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self._run_jobs()
            self.assertFalse(
                self._bodies(rsps, "/api/profile-subscription-bulk-create-jobs")
            )
            self.assertEqual(len(self._bodies(rsps, "/api/profile-import")), 1)

    def test_webhook_does_not_echo_back_to_klaviyo(self):
        response = self._post(klaviyo_webhook("ann.customer@example.com"))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(self._blacklisted())
        self.assertFalse(
            self.events.search([("backend_id", "=", self.backend.id)]),
            "the origin backend already knows",
        )

    def test_spam_complaint_and_unknown_email(self):
        body = klaviyo_webhook(
            "ann.customer@example.com", topic="event:klaviyo.marked_email_as_spam"
        )
        self.assertEqual(self._post(body).status_code, 200)
        self.assertTrue(self._blacklisted())
        stranger = klaviyo_webhook("nobody@example.com")
        self.assertEqual(self._post(stranger).status_code, 200)
        self.assertFalse(self._blacklisted("nobody@example.com"))

    def test_bad_signature_is_refused_and_changes_nothing(self):
        body = klaviyo_webhook("ann.customer@example.com")
        with mute_logger(CONTROLLER_LOGGER):
            response = self._post(body, secret="not-the-secret-0123456789")
        self.assertEqual(response.status_code, 401)
        # The URL token (visible in access logs) is not the signing key.
        with mute_logger(CONTROLLER_LOGGER):
            response = self._post(body, secret=TOKEN)
        self.assertEqual(response.status_code, 401)
        raw, headers = sign(body)
        tampered = raw.replace(b"ann.customer", b"bob.customer")
        with mute_logger(CONTROLLER_LOGGER):
            response = self.url_open(self._url(), data=tampered, headers=headers)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._blacklisted())
        self.assertFalse(self._blacklisted("bob.customer@example.com"))

    def test_wrong_token_or_backend_is_not_found(self):
        body = klaviyo_webhook("ann.customer@example.com")
        for url in (
            self._url(token="wrong-token"),
            f"/esp_sync/webhook/{self.backend.id + 999}/{TOKEN}",
        ):
            self.assertEqual(self._post(body, url=url).status_code, 404, url)
        self.backend.active = False
        self.assertEqual(self._post(body).status_code, 404, "archived backend")
        self.assertFalse(self._blacklisted())

    # ---------------------------------------------------------------- polling
    def _suppressed_profile(self, email, reason, moment):
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        return {
            "type": "profile",
            "id": f"P-{email}",
            "attributes": {
                "email": email,
                "subscriptions": {
                    "email": {
                        "marketing": {
                            "suppression": [{"reason": reason, "timestamp": stamp}],
                            "list_suppressions": [],
                        }
                    }
                },
            },
        }

    def test_polling_applies_suppressions_since_last_poll(self):
        self._opt_in_and_sync()
        moment = fields.Datetime.now() - timedelta(minutes=5)
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/profiles",
                json={
                    "data": [
                        self._suppressed_profile(
                            "ann.customer@example.com", "HARD_BOUNCE", moment
                        )
                    ],
                    "links": {"next": None},
                },
            )
            result = self.backend._esp_poll_consent()
            filters = [
                call.request.params.get("filter")
                for call in rsps.calls
                if call.request.method == "GET"
            ]
        self.assertIn("1 consent changes read, 1 partners updated", result)
        self.assertTrue(self._blacklisted())
        self.assertTrue(self.backend.last_consent_poll_at)
        self.assertTrue(any("suppression.timestamp" in f for f in filters), filters)
        # The next poll asks only for changes since this one.
        since = self.backend.last_consent_poll_at
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/profiles",
                json={"data": [], "links": {"next": None}},
            )
            self.backend._esp_poll_consent()
            first = rsps.calls[0]
        self.assertIn(
            since.strftime("%Y-%m-%dT%H:%M:%S"), first.request.params["filter"]
        )
        with self._mock() as rsps:
            self._klaviyo_ok(rsps)
            self.customer.write({"esp_marketing_opt_in": True})
            self._run_jobs()
            self.assertFalse(
                self._bodies(rsps, "/api/profile-subscription-bulk-create-jobs")
            )

    def test_polling_failure_is_recorded_not_raised(self):
        with self._mock() as rsps:
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/profiles",
                status=403,
                json={"errors": [{"status": 403, "detail": "Missing scope."}]},
            )
            self.backend._esp_poll_consent()
        exception = self.env["esp.sync.exception"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(exception.category, "authentication")
        self.assertFalse(self.backend.last_consent_poll_at, "polled again next time")
