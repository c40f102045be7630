# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import requests

from odoo.addons.esp_sync.providers.mailchimp import adapter as mailchimp_adapter
from odoo.addons.esp_sync.providers.mailchimp.util import subscriber_hash
from odoo.addons.esp_sync.sandbox import Sandbox

from .common import EspSyncCase

MAILCHIMP_KEY = "sandboxcompanya-us1"
AUDIENCE = "aud00001"


class MailchimpSandboxMixin:
    """A Mailchimp backend talking to the in-process ESP sandbox.

    Each test starts from an empty sandbox; ``_put_members`` and friends read
    the sandbox's request log, ``_member`` its state.
    """

    @classmethod
    def _setup_mailchimp(cls):
        cls.backend.active = False  # the base class' Klaviyo backend
        cls.sandbox = Sandbox(port=0, validate=True).start()
        cls.addClassCleanup(cls.sandbox.stop)
        cls.mailchimp = cls._mailchimp_backend(
            cls.company, MAILCHIMP_KEY, AUDIENCE, "store-a"
        )

    @classmethod
    def _mailchimp_backend(cls, company, key, list_id, store_id):
        return cls.env["esp.backend"].create(
            {
                "name": f"Mailchimp {company.name}",
                "provider": "mailchimp",
                "company_id": company.id,
                "base_url": cls.sandbox.base_url("mailchimp"),
                "api_key": key,
                "mailchimp_list_id": list_id,
                "mailchimp_store_id": store_id,
            }
        )

    def _reset_sandbox(self):
        self.sandbox.reset()
        # Merge tags known per audience are cached per process: forget them
        # with the sandbox state they described.
        mailchimp_adapter._merge_tags_cache.clear()

    def _create_audience(self, name, key=MAILCHIMP_KEY):
        """A second audience in the sandbox account; returns its id."""
        answer = requests.post(
            f"{self.sandbox.base_url('mailchimp')}/3.0/lists",
            json={
                "name": name,
                "contact": {
                    "company": "Test",
                    "address1": "1 Main St",
                    "city": "Leeds",
                    "state": "",
                    "zip": "LS1",
                    "country": "GB",
                },
                "permission_reminder": "You bought from us.",
                "campaign_defaults": {
                    "from_name": "Test",
                    "from_email": "shop@example.com",
                    "subject": "",
                    "language": "en",
                },
                "email_type_option": False,
            },
            auth=("odoo", key),
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["id"]

    def _calls(self, method=None, contains=""):
        return [
            r
            for r in self.sandbox.requests("mailchimp")
            if (method is None or r["method"] == method) and contains in r["path"]
        ]

    def _member_puts(self):
        return [
            r
            for r in self._calls("PUT", "/members/")
            if not r["path"].endswith("/tags")
        ]

    def _member(self, email, list_id=AUDIENCE, key=MAILCHIMP_KEY):
        state = self.sandbox.state("mailchimp", key)
        members = state.get("members", {}).get(list_id, {})
        return members.get(subscriber_hash(email))

    def _store(self, store_id, key=MAILCHIMP_KEY):
        return self.sandbox.state("mailchimp", key).get("stores", {}).get(store_id)


class MailchimpCase(MailchimpSandboxMixin, EspSyncCase):
    """EspSyncCase with the Mailchimp backend on the sandbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_mailchimp()

    def setUp(self):
        super().setUp()
        self._reset_sandbox()
