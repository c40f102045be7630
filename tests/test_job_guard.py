# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Jobs that are no ledger delivery never fail silently (issue 8).

Seen in a soak run: two consent polls blacklisted one address at once; the
second job died on ``mail_blacklist_unique_email`` and nothing in ESP Sync
said so. A conflict now retries the job, and a bug opens an exception.
"""

import datetime
from unittest.mock import patch

from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import RetryableJobError

from ..providers.events import ConsentUpdate
from .common import EspSyncCase


class _Adapter:
    """Only what the consent poll reads."""

    def __init__(self, updates):
        self.updates = updates

    def fetch_consent_updates(self, since):
        return self.updates


class TestJobGuard(EspSyncCase):
    def _unsubscribe(self):
        update = ConsentUpdate(
            email=self.customer.email,
            status="unsubscribed",
            occurred_at=datetime.datetime(2026, 12, 1, 12, 0),
            reason="unsubscribed",
        )
        return patch.object(
            type(self.backend),
            "_esp_audience_adapters",
            lambda backend: [_Adapter([update])],
        )

    def _blacklisted(self):
        return (
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", self.customer.email_normalized)])
        )

    def test_blacklisted_meanwhile_is_no_error(self):
        """Another transaction inserted the address between our look-up and
        our insert: a real unique violation, absorbed; the opt-out applies."""
        blacklist_class = type(self.env["mail.blacklist"])
        original_add = blacklist_class._add
        email = self.customer.email_normalized

        def add_after_a_rival(blacklist, address, message=None):
            blacklist.env.cr.execute(
                "INSERT INTO mail_blacklist (email, active) VALUES (%s, true)",
                (email,),
            )
            return original_add(blacklist, address, message=message)

        self.customer.write({"esp_marketing_opt_in": True})
        with (
            self._unsubscribe(),
            patch.object(blacklist_class, "_add", add_after_a_rival),
        ):
            result = self.backend._esp_poll_consent()
        self.assertIn("1 partners updated", result)
        self.assertEqual(len(self._blacklisted()), 1)
        self.assertFalse(self.customer.esp_marketing_opt_in)

    def test_database_conflict_retries_the_job(self):
        def conflict(*args, **kwargs):
            self.env.cr.execute(
                "INSERT INTO mail_blacklist (email, active) VALUES ('x@example.com',"
                " true), ('x@example.com', true)"
            )

        partners = type(self.env["res.partner"])
        with (
            self._unsubscribe(),
            patch.object(partners, "_esp_apply_consent_updates", conflict),
            mute_logger("odoo.sql_db"),
        ):
            with self.assertRaises(RetryableJobError) as caught:
                self.backend._esp_poll_consent()
        self.assertTrue(caught.exception.ignore_retry)
        self.assertIn("database conflict", str(caught.exception))

    def test_a_bug_opens_an_exception_for_it(self):
        def bug(*args, **kwargs):
            raise KeyError("no such thing")

        partners = type(self.env["res.partner"])
        before = self.env["esp.sync.exception"].search_count([])
        raised = False
        with (
            self._unsubscribe(),
            patch.object(partners, "_esp_apply_consent_updates", bug),
            mute_logger("odoo.addons.esp_sync.models.esp_sync_delivery"),
        ):
            # Not assertRaises: Odoo's rolls back what the block wrote.
            try:
                self.backend._esp_poll_consent()
            except KeyError:
                raised = True
        self.assertTrue(raised, "the job still fails: queue_job shows it")
        exceptions = self.env["esp.sync.exception"].search([], order="id desc")
        self.assertEqual(len(exceptions), before + 1)
        latest = exceptions[0]
        self.assertEqual(latest.category, "unexpected")
        self.assertEqual(latest.team, "it")
        self.assertIn("Consent poll", latest.message)
        self.assertIn("KeyError", latest.message)
        self.assertEqual(latest.backend_id, self.backend)
