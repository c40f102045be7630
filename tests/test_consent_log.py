# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent evidence (issue 10, item 2): every change, with its source."""

import base64
import csv
import datetime
import io

from odoo.exceptions import AccessError

from ..providers import DeliveryResult
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

    def _manager(self):
        group = self.env.ref
        return self.env["res.users"].create(
            {
                "name": "Consent Ops",
                "login": "esp_consent_ops",
                "groups_id": [
                    (6, 0, [group("esp_sync.group_esp_sync_manager").id]),
                ],
            }
        )

    def test_nobody_edits_or_deletes_the_history(self):
        self.customer.write({"esp_marketing_opt_in": True})
        row = self._log()
        for user in (self._manager(), self.env.ref("base.user_admin")):
            self.assertEqual(row.with_user(user).read(["event"])[0]["event"], "opt_in")
            with self.assertRaises(AccessError):
                row.with_user(user).write({"event": "opt_out"})
            with self.assertRaises(AccessError):
                row.with_user(user).unlink()
            with self.assertRaises(AccessError):
                self.env["esp.consent.log"].with_user(user).create(
                    {"email": "x@example.com", "event": "opt_in", "source": "import"}
                )
        with self.assertRaises(AccessError):
            row.sudo().unlink()
        with self.assertRaises(AccessError):
            row.sudo().write({"note": "rewritten"})
        self.assertEqual(row.event, "opt_in")

    def test_another_company_does_not_see_the_history(self):
        self.customer.write({"company_id": self.company.id})
        self.customer.write({"esp_marketing_opt_in": True})
        company_b = self.env["res.company"].create({"name": "Brand B"})
        user_b = self.env["res.users"].create(
            {
                "name": "Brand B clerk",
                "login": "esp_consent_b",
                "company_id": company_b.id,
                "company_ids": [(6, 0, company_b.ids)],
                "groups_id": [
                    (6, 0, [self.env.ref("esp_sync.group_esp_sync_user").id])
                ],
            }
        )
        logs = self.env["esp.consent.log"]
        self.assertTrue(logs.search([("partner_id", "=", self.customer.id)]))
        self.assertFalse(
            logs.with_user(user_b).search([("partner_id", "=", self.customer.id)])
        )

    def _opt_in_queries(self, count, prefix):
        people = self.env["res.partner"].create(
            [
                {"name": f"{prefix}{i}", "email": f"{prefix}{i}@example.com"}
                for i in range(count)
            ]
        )
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        people.write({"esp_marketing_opt_in": True, "esp_consent_source": "Form"})
        self.env.flush_all()
        queries = self.env.cr.sql_log_count - before
        logged = self.env["esp.consent.log"].search([("partner_id", "in", people.ids)])
        self.assertEqual(len(logged), count)
        self.assertEqual(set(logged.mapped("note")), {"Form"})
        return queries

    def test_many_partners_at_once_constant_queries(self):
        """Capture of 100 opt-ins costs what 10 cost: one INSERT for all."""
        for warm in ("warm", "warmer"):  # caches and the wake-up of a first write
            self._opt_in_queries(3, warm)
        few = self._opt_in_queries(10, "few")
        many = self._opt_in_queries(100, "many")
        self.assertEqual(many, few, "queries grow with the number of partners")
        self.assertLess(many, 40)

    def test_the_partner_form_opens_the_persons_history(self):
        self.customer.write({"esp_marketing_opt_in": True})
        self.customer.write({"esp_marketing_opt_in": False})
        self.assertEqual(self.customer.esp_consent_log_count, 2)
        action = self.customer.action_esp_consent_history()
        self.assertEqual(action["res_model"], "esp.consent.log")
        rows = self.env["esp.consent.log"].search(action["domain"])
        self.assertEqual(rows, self._log())

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

    def test_each_esp_that_applied_a_change_is_on_record(self):
        """The proof that a change reached the ESP: an "Applied at the ESP"
        row with the list it applied to and what the ESP was told; none for
        a delivery the adapter skipped. Every event exports to CSV."""
        self.backend.klaviyo_list_id = "LIST9"
        adapter = self._recorder()
        self.customer.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertTrue(adapter.calls_of("update_consent"))
        applied = self._log().filtered(lambda row: row.event == "applied")
        self.assertEqual(len(applied), 1)
        self.assertEqual(applied.backend_id, self.backend)
        self.assertEqual((applied.list_ref, applied.note), ("LIST9", "subscribed"))
        self.assertEqual(applied.source, "system")
        opt_in = self._log().filtered(lambda row: row.event == "opt_in")
        self.assertEqual(opt_in.list_ref, False, "made in Odoo: every backend")
        self.customer.write({"esp_marketing_opt_in": False})
        adapter.answer(
            "update_consent", DeliveryResult(skipped_reason="nothing to change")
        )
        self._run_jobs()
        self.assertEqual(
            len(self._log().filtered(lambda row: row.event == "applied")), 1
        )
        self.env["esp.consent.log"]._esp_log(
            self.customer, "confirmation_requested", backend=self.backend
        )
        action = self._log().action_export_csv()
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].browse(attachment_id)
        rows = list(
            csv.DictReader(io.StringIO(base64.b64decode(attachment.datas).decode()))
        )
        events = [row["event"] for row in rows]
        self.assertIn("Applied at the ESP", events)
        self.assertIn("Confirmation requested (double opt-in)", events)
        self.assertEqual(
            {row["list"] for row in rows if row["event"] == "Applied at the ESP"},
            {"LIST9"},
        )
