# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import zlib

from odoo.tools import mute_logger

from ..providers import EspError
from .common import EspSyncCase


class TestEngine(EspSyncCase):
    """Engine guarantees: companies, consent reach, locks, order, archive.

    Deliveries go to a RecordingAdapter: these tests assert what the engine
    asks an adapter, in which order, never an ESP's HTTP bodies.
    """

    def test_shared_partner_follows_the_company_it_buys_from(self):
        backend_b = self._other_company_backend()
        company_b = backend_b.company_id
        shared = self.env["res.partner"].create(
            {"name": "Shared Sam", "email": "sam@example.com"}
        )
        self.assertFalse(shared.company_id)
        order = self._order(partner=shared, confirm=False)
        order.write({"company_id": company_b.id})
        order.with_company(company_b).action_confirm()
        self.events.search([]).unlink()
        # Edited while the user works in company A: only B knows Sam.
        shared.with_company(self.company).write({"city": "Bath"})
        profile = self._ledger(res_model="res.partner", res_id=shared.id)
        self.assertEqual(profile.backend_id, backend_b)

    def test_order_hooks_refresh_the_profile_on_the_order_company_only(self):
        backend_b = self._other_company_backend()
        self._order()  # company A
        profiles = self._ledger(res_model="res.partner", res_id=self.customer.id)
        self.assertEqual(profiles.backend_id, self.backend)
        self.assertNotIn(backend_b, profiles.backend_id)

    def test_opt_out_reaches_a_backend_after_leaving_its_domain(self):
        newsletter = self.env["res.partner"].create(
            {
                "name": "Nina News",
                "email": "nina@example.com",
                "esp_marketing_opt_in": True,
            }
        )
        adapters = self._recording()
        self._run_jobs()
        self.assertTrue(newsletter.esp_binding_ids, "synced while opted in")
        # Unsubscribing takes her out of the default domain (no sale, no opt-in).
        newsletter.write({"esp_marketing_opt_in": False})
        self.assertFalse(self.backend._esp_in_scope(newsletter))
        consent = self._ledger(
            res_id=newsletter.id, event_type="consent", state="pending"
        )
        self.assertEqual(consent.backend_id, self.backend, "the opt-out still goes")
        adapter = adapters[self.backend.id]
        adapter.calls.clear()
        self._run_jobs()
        (sent,) = adapter.calls_of("update_consent")
        self.assertEqual(sent[0]["email"], "nina@example.com")
        self.assertEqual(sent[0]["status"], "unsubscribed")

    def test_failed_profile_never_holds_back_an_opt_out(self):
        adapter = self._recorder()
        adapter.fail(
            "upsert_profile",
            EspError("bad phone", category="data", status=400),
            times=10,
        )
        self.customer.write({"city": "York", "esp_marketing_opt_in": True})
        self._run_jobs()
        profile = self._ledger(res_id=self.customer.id, event_type="profile")
        self.assertEqual(profile.state, "failed")
        adapter.calls.clear()
        self.customer.write({"esp_marketing_opt_in": False})
        self._run_jobs()
        (sent,) = adapter.calls_of("update_consent")
        self.assertEqual(sent[0]["status"], "unsubscribed")
        self.assertNotIn("upsert_profile", adapter.methods())
        self.assertEqual(profile.state, "failed", "the profile still waits for a fix")

    def test_archived_backend_sends_nothing_and_keeps_events(self):
        self.customer.write({"city": "York"})
        self.backend.active = False
        adapters = self._recording()
        self._run_jobs()
        self.assertFalse(adapters, "no adapter was even asked for")
        event = self._ledger(res_id=self.customer.id, event_type="profile")
        self.assertEqual(event.state, "pending")

    def test_a_group_is_delivered_by_one_job_at_a_time(self):
        self.customer.write({"city": "York"})
        group_ref = f"res.partner,{self.customer.id}"
        key = zlib.crc32(group_ref.encode()) - 2**31
        delivery = self.env["esp.sync.delivery"]
        with self.registry.cursor() as other:
            other.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (self.backend.id, key)
            )
            adapters = self._recording()
            outcome = delivery._esp_deliver_group(self.backend, group_ref)
            self.assertFalse(adapters)
        self.assertTrue(outcome.busy, "the group is left to the job holding it")
        event = self._ledger(res_id=self.customer.id, event_type="profile")
        self.assertEqual(event.state, "pending")

    def test_cancel_and_reconfirm_in_one_second_keep_their_order(self):
        order = self._order()
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        adapter = self._recorder()
        self._run_jobs()
        kinds = [event[0]["kind"] for event in adapter.calls_of("send_order_event")]
        self.assertEqual(kinds, ["placed", "cancelled", "placed"])

    @mute_logger("odoo.sql_db")
    def test_broken_domain_never_breaks_a_partner_edit(self):
        self.env.cr.execute(
            "UPDATE esp_backend SET partner_domain = %s WHERE id = %s",
            ["[('x_removed_field', '=', 1)]", self.backend.id],
        )
        self.backend.invalidate_recordset(["partner_domain"])
        self.customer.write({"city": "York"})  # must not raise
        exception = self.env["esp.sync.exception"].search(
            [("code", "=", "domain_invalid")]
        )
        self.assertEqual(exception.team, "it")

    def test_vacuum_forgets_old_profile_rows_but_keeps_order_keys(self):
        self.customer.write({"city": "York"})
        order = self._order()
        self._recording()
        self._run_jobs()
        sent = self._ledger(state="sent")
        self.assertTrue({"profile", "order_placed"} <= set(sent.mapped("event_type")))
        sent.write({"occurred_at": "2020-01-01 00:00:00"})
        removed = self.events._cron_vacuum(days=90)
        self.assertGreater(removed, 0)
        left = self._ledger(state="sent")
        self.assertEqual(set(left.mapped("event_type")), {"order_placed"})
        self.assertEqual(left.res_id, order.id)

    def test_bulk_capture_evaluates_each_backend_domain_once(self):
        backend_class = type(self.env["esp.backend"])
        original = backend_class._esp_in_scope
        calls = []

        def counting(backend, partners, companies=None, memo=None):
            calls.append(len(partners))
            return original(backend, partners, companies, memo=memo)

        self.patch(backend_class, "_esp_in_scope", counting)
        people = self.env["res.partner"].create(
            [
                {
                    "name": f"Bulk {i}",
                    "email": f"bulk{i}@example.com",
                    "customer_rank": 1,
                }
                for i in range(30)
            ]
        )
        self.assertEqual(calls, [30], "one evaluation for the 30 new partners")
        ledger = self._ledger(event_type="profile", backend_id=self.backend.id)
        self.assertEqual(len(ledger.filtered(lambda e: e.res_id in people.ids)), 30)
