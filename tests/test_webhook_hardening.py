# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..controllers.webhook_guard import MAX_BODY_BYTES, RedactWebhookTokens
from .common import EspSyncCase
from .test_klaviyo_inbound import (
    CONTROLLER_LOGGER,
    SECRET,
    TOKEN,
    klaviyo_webhook,
    sign,
)

ANN = "ann.customer@example.com"


@tagged("post_install", "-at_install")
class TestWebhookHardening(EspSyncCase, HttpCase):
    """Forged, stale, replayed, oversized, malformed and cross-company webhook
    calls are refused (4xx, no traceback) and change nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.write({"webhook_secret": TOKEN, "webhook_signing_secret": SECRET})
        cls.blacklist = cls.env["mail.blacklist"].with_context(active_test=False)

    def _post(self, raw, headers, url=None):
        """POST; return ``(response, warnings logged outside the controller)``.

        The controller's own one-line refusal is expected (muted); anything
        else at WARNING or above, a traceback above all, is a defect.
        """
        caught = _Caught()
        root = logging.getLogger()
        root.addHandler(caught)
        try:
            with mute_logger(CONTROLLER_LOGGER):
                response = self.url_open(
                    url or f"/esp_sync/webhook/{self.backend.id}",
                    data=raw,
                    headers=headers,
                )
        finally:
            root.removeHandler(caught)
        return response, caught.records

    def _assert_refused(self, response, records, status):
        self.assertEqual(response.status_code, status, response.text)
        self.assertLessEqual(len(response.text), 20, "a generic answer only")
        for secret in (SECRET, TOKEN, "signature", "Klaviyo", "Traceback"):
            self.assertNotIn(secret, response.text)
        self.assertFalse(
            [r.getMessage() for r in records], "nothing but the refusal is logged"
        )

    def _unchanged(self):
        self.env.invalidate_all()
        self.assertFalse(
            self.blacklist.search([("email", "=", ANN), ("active", "=", True)])
        )
        self.assertTrue(self.customer.esp_marketing_opt_in)

    def setUp(self):
        super().setUp()
        self.customer.with_context(esp_sync_no_capture=True).write(
            {"esp_marketing_opt_in": True}
        )

    # ------------------------------------------------------------ accepted
    def test_signed_call_without_token_in_the_url(self):
        response, _records = self._post(*sign(klaviyo_webhook(ANN)))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertTrue(self.blacklist.search([("email", "=", ANN)]))

    def test_access_log_keeps_no_token(self):
        record = logging.LogRecord(
            "werkzeug",
            logging.INFO,
            __file__,
            1,
            '%s - - "%s" %s',
            ("127.0.0.1", f"POST /esp_sync/webhook/7/{TOKEN} HTTP/1.1", 200),
            None,
        )
        RedactWebhookTokens().filter(record)
        self.assertNotIn(TOKEN, record.getMessage())
        self.assertIn("/esp_sync/webhook/7/***", record.getMessage())

    def test_access_log_of_a_real_call_keeps_no_token(self):
        caught = _Caught(logging.INFO)
        access = logging.getLogger("werkzeug")
        level = access.level
        access.setLevel(logging.INFO)
        access.addHandler(caught)
        try:
            response = self.url_open(f"/esp_sync/webhook/{self.backend.id}/{TOKEN}")
        finally:
            access.removeHandler(caught)
            access.setLevel(level)
        self.assertEqual(response.status_code, 200)
        lines = [record.getMessage() for record in caught.records]
        self.assertTrue(any("/esp_sync/webhook/" in line for line in lines), lines)
        self.assertFalse([line for line in lines if TOKEN in line])

    # ------------------------------------------------------------- refused
    def test_forged_signature_is_refused(self):
        raw, headers = sign(klaviyo_webhook(ANN), secret="forged-secret-0123456789")
        self._assert_refused(*self._post(raw, headers), 401)
        del headers["Klaviyo-Signature"]
        self._assert_refused(*self._post(raw, headers), 401)
        self._unchanged()

    def test_stale_signed_call_is_refused(self):
        body = klaviyo_webhook(ANN)
        body["meta"]["timestamp"] = "2020-01-01T00:00:00+00:00"
        self._assert_refused(*self._post(*sign(body)), 401)
        later = fields.Datetime.now() + timedelta(minutes=10)
        body["meta"]["timestamp"] = later.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        self._assert_refused(*self._post(*sign(body)), 401)
        self._unchanged()

    def test_replayed_call_is_refused_after_a_new_opt_in(self):
        raw, headers = sign(klaviyo_webhook(ANN))
        response, _records = self._post(raw, headers)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.blacklist._remove(ANN)
        self.customer.write({"esp_marketing_opt_in": True})
        self._assert_refused(*self._post(raw, headers), 409)
        self._unchanged()
        # The same event re-sent in another (signed) delivery changes nothing.
        body = klaviyo_webhook(ANN)
        body["meta"]["timestamp"] = (
            fields.Datetime.now() + timedelta(seconds=1)
        ).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        response, _records = self._post(*sign(body))
        self.assertEqual(response.status_code, 200)
        self._unchanged()
        # Receipts are forgotten by the vacuum cron once no replay can pass.
        receipts = self.env["esp.webhook.receipt"]
        self.assertTrue(receipts.search_count([("backend_id", "=", self.backend.id)]))
        self.assertFalse(receipts._cron_vacuum())
        self.assertTrue(receipts._cron_vacuum(days=-1))

    def test_oversized_body_is_refused(self):
        body = klaviyo_webhook(ANN)
        body["meta"]["padding"] = "x" * MAX_BODY_BYTES
        self._assert_refused(*self._post(*sign(body)), 413)
        self._unchanged()

    def test_malformed_signed_bodies_are_refused(self):
        timestamp = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
        for raw in (
            b"[]",
            b'"x"',
            b'{"data": 5}',
            b'{"data": [5]}',
            b'{"data": [{"topic": "x", "payload": []}]}',
            b"[" * 50000 + b"]" * 50000,
            b'{"data": "\xff\xfe"}',
        ):
            with self.subTest(raw=raw[:30]):
                _raw, headers = sign({"meta": {"timestamp": timestamp}}, raw=raw)
                self._assert_refused(*self._post(raw, headers), 400)
        self._unchanged()

    def test_mailchimp_door_refuses_malformed_bodies(self):
        mailchimp = self.env["esp.backend"].create(
            {"name": "MC", "provider": "mailchimp", "api_key": "k-us1"}
        )
        url = f"/esp_sync/webhook/{mailchimp.id}/{mailchimp.sudo().webhook_secret}"
        for raw, content_type in (
            (b"[]", "application/json"),
            (b'{"data": 5}', "application/json"),
            (b"\xff\xfe", "application/octet-stream"),
        ):
            response, records = self._post(raw, {"Content-Type": content_type}, url)
            self._assert_refused(response, records, 400)
        # Mailchimp cannot sign: the token-less door is closed to it.
        response, records = self._post(
            b"type=unsubscribe", {}, f"/esp_sync/webhook/{mailchimp.id}"
        )
        self._assert_refused(response, records, 404)
        self._unchanged()

    def test_other_company_backend_changes_nothing_here(self):
        """Company B's webhook never touches a partner only company A knows,
        nor reaches company A's ESPs."""
        # Company A's own customer, and a shared one who bought from A only.
        self.customer.with_context(esp_sync_no_capture=True).company_id = self.company
        shared = self.env["res.partner"].create(
            {"name": "Shared Sam", "email": "sam@example.com"}
        )
        self._order(partner=shared)
        shared.with_context(esp_sync_no_capture=True).esp_marketing_opt_in = True
        backend_b = self._other_company_backend()
        backend_b.write(
            {"webhook_secret": "token-b-0123456789", "webhook_signing_secret": SECRET}
        )
        url_b = f"/esp_sync/webhook/{backend_b.id}"
        self.events.search([]).unlink()
        for email, event_id in ((ANN, "EVT1"), ("sam@example.com", "EVT3")):
            body = klaviyo_webhook(email)
            body["data"][0]["external_id"] = event_id
            response, _records = self._post(*sign(body), url=url_b)
            self.assertEqual(response.status_code, 200)
        self._unchanged()
        self.assertTrue(shared.esp_marketing_opt_in)
        self.assertFalse(
            self.blacklist.search([("email", "=", "sam@example.com")]),
        )
        self.assertFalse(self.events.search([("backend_id", "=", self.backend.id)]))
        # A partner of company B with that address is B's to change, and the
        # opt-out stays within company B.
        partner_b = self.env["res.partner"].create(
            {
                "name": "Ann at B",
                "email": ANN,
                "company_id": backend_b.company_id.id,
                "esp_marketing_opt_in": True,
            }
        )
        self.events.search([]).unlink()
        body = klaviyo_webhook(ANN)
        body["data"][0]["external_id"] = "EVT2"
        response, _records = self._post(*sign(body), url=url_b)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertFalse(partner_b.esp_marketing_opt_in)
        self.assertTrue(self.customer.esp_marketing_opt_in, "A's partner untouched")
        self.assertFalse(self.events.search([("backend_id", "=", self.backend.id)]))


class _Caught(logging.Handler):
    """Keeps the records of ``level`` and above."""

    def __init__(self, level=logging.WARNING):
        super().__init__(level)
        self.records = []

    def emit(self, record):
        self.records.append(record)
