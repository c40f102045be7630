# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .mailchimp_common import AUDIENCE, MAILCHIMP_KEY, MailchimpCase


class TestMailchimpBackfill(MailchimpCase):
    """The shared backfill engine on Mailchimp: batches, store is_syncing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.configure(job_seconds=0)
        quiet = cls.env["res.partner"].with_context(esp_sync_no_capture=True)
        cls.people = quiet.create(
            [
                {
                    "name": f"Past Customer {i}",
                    "email": f"past{i}@example.com",
                    "customer_rank": 1,
                }
                for i in range(1000)
            ]
        )

    def test_thousand_partners_run_as_batches_with_store_syncing(self):
        # Right after set-up: no live order has created the store yet, the
        # backfill creates it (it used to fail at once on its 404).
        self.assertIsNone(self._store("store-a"))
        self.sandbox.clear_requests()
        action = (
            self.env["esp.backfill.wizard"]
            .create({"backend_id": self.mailchimp.id, "scope": "profiles"})
            .action_start()
        )
        run = self.env["esp.backfill"].browse(action["res_id"])
        self._run_jobs(rounds=30)
        self.assertEqual(run.state, "done", run.last_error)
        log = self.sandbox.requests("mailchimp")
        batches = [
            r for r in log if r["method"] == "POST" and r["path"] == "/3.0/batches"
        ]
        self.assertGreaterEqual(len(batches), 3, "1,000+ members: 500 per batch")
        sizes = [len(r["body"]["operations"]) for r in batches]
        self.assertLessEqual(max(sizes), 500)
        self.assertGreaterEqual(sum(sizes), 1000)
        syncing = [
            (i, r["body"]["is_syncing"])
            for i, r in enumerate(log)
            if r["method"] == "PATCH" and r["path"].endswith("/stores/store-a")
        ]
        self.assertEqual([flag for _i, flag in syncing], [True, False])
        first_batch = log.index(batches[0])
        last_batch = log.index(batches[-1])
        self.assertLess(syncing[0][0], first_batch, "is_syncing on before")
        self.assertGreater(syncing[1][0], last_batch, "and off after")
        store = self._store("store-a")["store"]
        self.assertFalse(store["is_syncing"])
        self.assertEqual(store["currency_code"], self.company.currency_id.name)
        self.assertEqual(store["name"], self.company.name)
        members = self.sandbox.state("mailchimp", MAILCHIMP_KEY)["members"][AUDIENCE]
        self.assertGreaterEqual(len(members), 1000)
        subscribed = {
            m["email_address"] for m in members.values() if m["status"] == "subscribed"
        }
        opted_in = self.env["res.partner"].search(
            [("email_normalized", "in", list(subscribed))]
        )
        self.assertTrue(all(opted_in.mapped("esp_marketing_opt_in")))
        self.assertFalse(
            subscribed & set(self.people.mapped("email")),
            "a backfill never subscribes anyone without an opt-in",
        )
        self.assertEqual(
            len(run.batch_ids.filtered(lambda b: b.kind == "profiles")), len(batches)
        )
