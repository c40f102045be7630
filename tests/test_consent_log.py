# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent evidence (issue 10, item 2): every change, with its source."""

import base64
import csv
import datetime
import io

from odoo.exceptions import AccessError

from ..providers.events import ConsentUpdate
from .common import EspSyncCase


class TestConsentLog(EspSyncCase):
    def _log(self, partner=None):
        return self.env["esp.consent.log"].search(
            [("partner_id", "=", (partner or self.customer).id)], order="id"
        )

    def test_each_path_is_recorded_with_its_source(self):
        manager = self.env.ref("base.user_admin")
        customer = self.customer.with_user(manager)
        customer.write({"esp_consent_source": "Checkout box v3"})
        customer.write({"esp_marketing_opt_in": True})
        customer.write({"esp_marketing_opt_in": True})  # no change: no row
        customer.write({"esp_marketing_opt_in": False})
        blacklist = self.env["mail.blacklist"].with_user(manager)
        blacklist._add(self.customer.email)
        blacklist._remove(self.customer.email)
        update = ConsentUpdate(
            email=self.customer.email_normalized,
            status="unsubscribed",
            occurred_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc),
            reason="preference page",
        )
        self.env["res.partner"].with_context(
            esp_consent_source="esp_webhook"
        )._esp_apply_consent_updates(self.backend, [update])
        rows = self._log()
        self.assertEqual(
            [(r.event, r.source) for r in rows],
            [
                ("opt_in", "odoo_user"),
                ("opt_out", "odoo_user"),
                ("blacklisted", "odoo_user"),
                ("unblacklisted", "odoo_user"),
                ("esp_opt_out", "esp_webhook"),
            ],
        )
        self.assertEqual(rows[0].note, "Checkout box v3", "the consent wording")
        self.assertEqual(rows[0].user_id, manager)
        self.assertEqual(rows[-1].backend_id, self.backend)
        self.assertIn("preference page", rows[-1].note)
        self.assertEqual(set(rows.mapped("email")), {"ann.customer@example.com"})

    def test_a_poll_and_a_system_change_say_so(self):
        update = ConsentUpdate(
            email=self.customer.email_normalized,
            status="suppressed",
            occurred_at=datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc),
        )
        self.env["res.partner"].with_context(
            esp_consent_source="esp_poll"
        )._esp_apply_consent_updates(self.backend, [update])
        self.assertEqual(self._log().mapped("source"), ["esp_poll"])
        new = self.env["res.partner"].create(
            {"name": "Sys", "email": "sys@example.com", "esp_marketing_opt_in": True}
        )
        self.assertEqual(self._log(new).mapped("source"), ["system"])

    def test_nobody_edits_or_deletes_the_history(self):
        self.customer.write({"esp_marketing_opt_in": True})
        row = self._log()
        manager = self.env.ref("base.user_admin")
        with self.assertRaises(AccessError):
            row.with_user(manager).write({"event": "opt_out"})
        with self.assertRaises(AccessError):
            row.sudo().unlink()
        with self.assertRaises(AccessError):
            self.env["esp.consent.log"].with_user(manager).create(
                {"email": "x@example.com", "event": "opt_in", "source": "import"}
            )

    def test_many_partners_at_once_one_insert(self):
        people = self.env["res.partner"].create(
            [{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(50)]
        )
        self.env.flush_all()
        with self.assertQueryCount(__system__=30):
            people.write({"esp_marketing_opt_in": True})
            self.env.flush_all()
        logged = self.env["esp.consent.log"].search_count(
            [("partner_id", "in", people.ids)]
        )
        self.assertEqual(logged, 50)

    def test_csv_export_for_an_audit(self):
        self.customer.write({"esp_marketing_opt_in": True})
        self.customer.write({"esp_marketing_opt_in": False})
        action = self._log().action_export_csv()
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].browse(attachment_id)
        rows = list(
            csv.reader(io.StringIO(base64.b64decode(attachment.datas).decode()))
        )
        self.assertEqual(rows[0][:2], ["date", "email"])
        self.assertEqual([r[5] for r in rows[1:]], ["Opted in", "Opted out"])
        self.assertEqual({r[1] for r in rows[1:]}, {"ann.customer@example.com"})
