# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import fields

from .common import EspSyncCase

MC_URL = "https://us1.api.mailchimp.com"
MEMBER = re.compile(rf"{MC_URL}/3\.0/lists/aud1/members/[0-9a-f]{{32}}$")


class TestMailchimpErrors(EspSyncCase):
    """Mailchimp's problem+json errors become exceptions for the right team."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.active = False
        cls.mailchimp = cls.env["esp.backend"].create(
            {
                "name": "Mailchimp",
                "provider": "mailchimp",
                "api_key": "0123456789abcdef0123456789abcdef-us1",
                "mailchimp_list_id": "aud1",
                "mailchimp_store_id": "store1",
            }
        )

    def _problem(self, rsps, status, title, detail, errors=None, method="PUT"):
        body = {
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "0b1c2d3e",
        }
        if errors:
            body["errors"] = errors
        rsps.add(
            method,
            MEMBER,
            json=body,
            status=status,
            content_type="application/problem+json",
        )

    def _deliver_profile(self):
        self.customer.write({"city": "York"})
        self._run_jobs()
        return self.events.search(
            [
                ("backend_id", "=", self.mailchimp.id),
                ("res_id", "=", self.customer.id),
                ("event_type", "=", "profile"),
            ]
        )

    def test_400_with_field_is_a_data_exception_for_marketing(self):
        with self._mock() as rsps:
            self._problem(
                rsps,
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                errors=[
                    {"field": "email_address", "message": "This email looks fake."}
                ],
            )
            event = self._deliver_profile()
            self.assertEqual(len(rsps.calls), 1)
        exception = event.exception_id
        self.assertEqual(event.state, "failed")
        self.assertEqual((exception.category, exception.team), ("data", "marketing"))
        self.assertEqual(exception.field, "email_address")
        self.assertIn("looks fake", exception.message)

    def test_member_in_compliance_state_is_a_data_exception(self):
        with self._mock() as rsps:
            self._problem(
                rsps,
                400,
                "Member In Compliance State",
                "ann.customer@example.com is in a compliance state due to "
                "unsubscribe, bounce, or compliance review and cannot be "
                "subscribed.",
            )
            event = self._deliver_profile()
        exception = event.exception_id
        self.assertEqual((exception.category, exception.team), ("data", "marketing"))
        self.assertEqual(exception.code, "member_in_compliance_state")

    def test_403_throttling_retries_then_goes_to_operations(self):
        detail = "You have exceeded the limit of 10 simultaneous connections."
        self.customer.write({"city": "York"})
        event = self.events.search(
            [("backend_id", "=", self.mailchimp.id), ("event_type", "=", "profile")]
        )
        with self._mock() as rsps:
            self._problem(rsps, 403, "Forbidden", detail)
            self._run_jobs(rounds=1)
        self.assertEqual(event.state, "pending", "throttling is retried, not lost")
        self.assertGreater(event.due_at, fields.Datetime.now())
        # Throttling is pacing, not failure: it never gives up, and a long
        # wait reaches operations as a latency alert instead.
        event.write(
            {
                "due_at": fields.Datetime.now(),
                "occurred_at": fields.Datetime.subtract(fields.Datetime.now(), days=1),
            }
        )
        self.mailchimp.paused_until = False
        with self._mock() as rsps:
            self._problem(rsps, 403, "Forbidden", detail)
            self.mailchimp._esp_dispatch("bulk")
        self.assertEqual((event.state, event.attempts), ("pending", 0))
        self.env["esp.backend"]._cron_check_latency()
        alert = self.env["esp.sync.incident"].search(
            [("backend_id", "=", self.mailchimp.id), ("kind", "=", "latency")]
        )
        self.assertEqual(alert.team, "operations")

    def test_404_is_a_configuration_exception_for_it(self):
        with self._mock() as rsps:
            self._problem(
                rsps,
                404,
                "Resource Not Found",
                "The requested resource could not be found.",
            )
            event = self._deliver_profile()
        exception = event.exception_id
        self.assertEqual((exception.category, exception.team), ("configuration", "it"))
        self.assertIn("audience", exception.message)

    def test_403_bad_key_is_an_authentication_exception_for_it(self):
        with self._mock() as rsps:
            self._problem(
                rsps,
                403,
                "Forbidden",
                "The API key provided is linked to a different datacenter.",
            )
            event = self._deliver_profile()
        self.assertEqual(
            (event.exception_id.category, event.exception_id.team),
            ("authentication", "it"),
        )
        self.assertNotIn("0123456789abcdef", event.exception_id.message)
