# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An email changed in Odoo moves the person at each ESP (issue 8, item 8).

Real records, real jobs, the three sandbox ESPs: after the change each ESP
holds one person at the new address and none at the old one.
"""

from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter

from .common import EspSyncCase, use_shared_specs

KLAVIYO_KEY = "pk_sandbox_email_change"
MAILCHIMP_KEY = "sandboxemailchange-us1"
DOTDIGITAL_USER = "apiuser-sandbox-email-change@apiconnector.com"
OLD, NEW = "ann.customer@example.com", "ann.new@example.com"


@tagged("post_install", "-at_install")
class TestEmailChangeSandbox(EspSyncCase):
    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.active = False
        backends = cls.env["esp.backend"]
        cls.klaviyo = backends.create(
            {
                "name": "Klaviyo sandbox",
                "provider": "klaviyo",
                "base_url": cls.sb.base_url("klaviyo"),
                "api_key": KLAVIYO_KEY,
            }
        )
        cls.mailchimp = backends.create(
            {
                "name": "Mailchimp sandbox",
                "provider": "mailchimp",
                "base_url": cls.sb.base_url("mailchimp"),
                "api_key": MAILCHIMP_KEY,
                "mailchimp_list_id": "aud00001",
            }
        )
        cls.dotdigital = backends.create(
            {
                "name": "Dotdigital sandbox",
                "provider": "dotdigital",
                "base_url": cls.sb.base_url("dotdigital"),
                "api_user": DOTDIGITAL_USER,
                "api_secret": "sandbox-password",
                "dotdigital_address_book_id": "1",
            }
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        dotdigital_adapter._fields_cache.clear()

    def _emails(self):
        klaviyo = self.sb.state("klaviyo", KLAVIYO_KEY)["profiles"].values()
        mailchimp = [
            member
            for members in self.sb.state("mailchimp", MAILCHIMP_KEY)["members"].values()
            for member in members.values()
            if member["status"] != "archived"
        ]
        dotdigital = self.sb.state("dotdigital", DOTDIGITAL_USER)["contacts"].values()
        return {
            "klaviyo": sorted(p["email"] for p in klaviyo if p.get("email")),
            "mailchimp": sorted(m["email_address"] for m in mailchimp),
            "dotdigital": sorted(c["identifiers"]["email"] for c in dotdigital),
        }

    def test_an_email_change_moves_the_person_at_every_esp(self):
        self.customer.write({"esp_marketing_opt_in": True, "city": "Leeds"})
        self._run_jobs(rounds=8)
        self.assertEqual(
            self._emails(), {"klaviyo": [OLD], "mailchimp": [OLD], "dotdigital": [OLD]}
        )
        self.customer.write({"email": NEW})
        self._run_jobs(rounds=8)
        self.assertEqual(
            self._emails(),
            {"klaviyo": [NEW], "mailchimp": [NEW], "dotdigital": [NEW]},
            "one person per ESP, at the new address",
        )
        changes = self._ledger(event_type="email_change", res_id=self.customer.id)
        self.assertEqual(len(changes), 3)
        self.assertEqual(set(changes.mapped("state")), {"sent"})
        self.assertFalse(
            self.env["esp.sync.exception"].search(
                [("res_id", "=", self.customer.id), ("state", "=", "open")]
            )
        )
