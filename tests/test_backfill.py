# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

import responses

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError
from .common import KLAVIYO_KEY, EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin


class TestBackfill(KlaviyoHttpMixin, EspSyncCase):
    """Historical load: chunked bulk jobs, resumable, with progress."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        quiet = cls.env["res.partner"].with_context(esp_sync_no_capture=True)
        cls.people = quiet.create(
            [
                {
                    "name": f"Past Customer {i}",
                    "email": f"past{i}@example.com",
                    "customer_rank": 1,
                }
                for i in range(25)
            ]
        )
        cls.broken = quiet.create(
            {"name": "No Domain", "email": "broken@nodomain", "customer_rank": 1}
        )

    def _klaviyo_bulk(self, rsps):
        rsps.add(
            responses.POST,
            f"{KLAVIYO_URL}/api/profile-bulk-import-jobs",
            status=202,
            json={
                "data": {
                    "type": "profile-bulk-import-job",
                    "id": "JOB1",
                    "attributes": {
                        "status": "queued",
                        "total_count": 0,
                        "completed_count": 0,
                        "failed_count": 0,
                    },
                }
            },
        )
        rsps.add(
            responses.GET,
            f"{KLAVIYO_URL}/api/profile-bulk-import-jobs/JOB1",
            json={
                "data": {
                    "type": "profile-bulk-import-job",
                    "id": "JOB1",
                    "attributes": {
                        "status": "complete",
                        "total_count": 10,
                        "completed_count": 10,
                        "failed_count": 0,
                    },
                }
            },
        )
        rsps.add(
            responses.POST, f"{KLAVIYO_URL}/api/event-bulk-create-jobs", status=202
        )

    def _wizard(self, **vals):
        return self.env["esp.backfill.wizard"].create(
            dict({"backend_id": self.backend.id}, **vals)
        )

    def test_profiles_in_chunks_resumable_with_progress(self):
        self.patch(
            type(self.env["esp.backfill"]),
            "_esp_chunk_size",
            lambda run: 10,
        )
        action = self._wizard(scope="profiles").action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        self.assertEqual(run.state, "running")
        expected = run.total_count
        self.assertGreaterEqual(expected, 26)
        with self._mock() as rsps:
            self._klaviyo_bulk(rsps)
            self.trap.perform_enqueued_jobs()  # first chunk only
            self.assertEqual(run.batch_ids.mapped("total"), [10])
            run.action_pause()
            self._run_jobs()
            self.assertEqual(len(run.batch_ids), 1, "paused: nothing more is sent")
            self.assertGreater(run.progress, 0)
            self.assertLess(run.progress, 100)
            run.action_resume()
            self._run_jobs(rounds=20)
            posted = [
                json.loads(c.request.body)
                for c in rsps.calls
                if c.request.url.endswith("/api/profile-bulk-import-jobs")
            ]
        self.assertEqual(run.state, "done")
        self.assertEqual(run.progress, 100.0)
        emails = [
            p["attributes"]["email"]
            for body in posted
            for p in body["data"]["attributes"]["profiles"]["data"]
        ]
        self.assertEqual(len(emails), len(set(emails)), "each person sent once")
        self.assertIn("past0@example.com", emails)
        self.assertNotIn("broken@nodomain", emails)
        self.assertEqual(run.error_count, 1, "the unusable email is reported")
        exception = self.env["esp.sync.exception"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.broken.id)]
        )
        self.assertEqual(exception.category, "data")

    def test_waits_while_too_many_bulk_jobs_are_in_flight(self):
        self.patch(const, "BACKFILL_MAX_IN_FLIGHT", 1)
        self.patch(type(self.env["esp.backfill"]), "_esp_chunk_size", lambda run: 5)
        action = self._wizard(scope="profiles").action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        slow = {
            "data": {
                "type": "profile-bulk-import-job",
                "id": "SLOW",
                "attributes": {"status": "processing"},
            }
        }
        with self._mock() as rsps:
            url = f"{KLAVIYO_URL}/api/profile-bulk-import-jobs"
            rsps.add(responses.POST, url, status=202, json=slow)
            rsps.add(responses.GET, f"{url}/SLOW", json=slow)
            self.trap.perform_enqueued_jobs()  # first chunk: one job in flight
            self.trap.perform_enqueued_jobs()  # second step must wait
            posts = [c for c in rsps.calls if c.request.method == "POST"]
        self.assertEqual(len(posts), 1)
        self.assertEqual(run.batch_ids.mapped("state"), ["processing"])
        self.assertEqual(run.state, "running")

    def test_orders_are_flagged_historical(self):
        order = self._order(qty=2)
        self.trap.enqueued_jobs.clear()
        action = self._wizard(scope="orders").action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        with self._mock() as rsps:
            self._klaviyo_bulk(rsps)
            self._run_jobs(rounds=20)
            (body,) = [
                json.loads(c.request.body)
                for c in rsps.calls
                if c.request.url.endswith("/api/event-bulk-create-jobs")
            ]
        self.assertEqual(run.state, "done")
        self.assertIn(f"sale.order:{order.id}:order_placed", json.dumps(body))
        self.assertIn("Placed Order", json.dumps(body))

    def test_profile_chunk_lookups_same_values_constant_queries(self):
        """A chunk's profiles equal the one-by-one profiles, and the chunk
        costs the same number of queries for 5 partners as for 25."""
        values = self.env["esp.sync.values"]
        self.env["mail.blacklist"].sudo()._add(self.people[3].email)
        self.people[4].with_context(esp_sync_no_capture=True).write(
            {"esp_marketing_opt_in": True}
        )
        quiet = self.env["res.partner"].with_context(esp_sync_no_capture=True)
        twin = quiet.create({"name": "Twin", "email": self.people[5].email})
        chunk = self.people | twin
        profiles, errors = values._esp_backfill_profiles(self.backend, chunk)
        self.assertFalse(errors)
        one_by_one = {
            p.email: values._esp_profile(self.backend, p)
            for p in self.people.sorted("id")
        }
        self.assertEqual({p.email: p for p in profiles}, one_by_one)
        self.assertEqual(
            one_by_one[self.people[3].email_normalized].consent.status.value,
            "unsubscribed",
        )
        self.assertTrue(one_by_one[self.people[3].email_normalized].consent.suppressed)
        self.assertEqual(
            one_by_one[self.people[5].email_normalized].external_id,
            f"odoo-{self.company.id}-{self.people[5].id}",
        )

        def queries(partners):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            values._esp_backfill_profiles(self.backend, partners)
            return self.cr.sql_log_count - before

        small, large = queries(self.people[:5]), queries(self.people)
        self.assertLessEqual(large, small + 2, (small, large))

    def test_order_chunk_lookups_same_values_constant_queries(self):
        """A chunk's Placed Order snapshots equal the one-by-one snapshots
        (images included), and 6 orders cost the queries of 2."""
        values = self.env["esp.sync.values"]
        pixel = (
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
            "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        )
        self.product.product_tmpl_id.image_1920 = pixel
        plain = self.env["product.product"].create({"name": "No picture"})
        orders = self.env["sale.order"]
        for i in range(6):
            order = self._order(partner=self.people[i], confirm=False)
            if i % 2:
                order.order_line = [(0, 0, {"product_id": plain.id})]
            order.action_confirm()
            orders |= order
        events, errors = values._esp_backfill_orders(self.backend, orders)
        self.assertFalse(errors)
        one_by_one = {o.id: values._esp_order(self.backend, o) for o in orders}
        self.assertEqual({int(e.order.order_id): e.order for e in events}, one_by_one)
        urls = {line.image_url for e in events for line in e.order.lines}
        self.assertIn("", urls, "a product without a picture has no image URL")
        self.assertTrue(any("/web/image/product.template/" in u for u in urls))

        def queries(chunk):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            values._esp_backfill_orders(self.backend, chunk)
            return self.cr.sql_log_count - before

        small, large = queries(orders[:2]), queries(orders)
        self.assertLessEqual(large, small + 2, (small, large))

    def _first_chunk_with_headers(self, headers):
        """Run the first profile chunk answered with ``headers``; return the
        jobs it enqueued."""
        self.patch(type(self.env["esp.backfill"]), "_esp_chunk_size", lambda run: 10)
        action = self._wizard(scope="profiles").action_start()
        with self._mock() as rsps:
            rsps.add(
                responses.POST,
                f"{KLAVIYO_URL}/api/profile-bulk-import-jobs",
                status=202,
                headers=headers,
                json={"data": {"type": "profile-bulk-import-job", "id": "J1"}},
            )
            self.trap.perform_enqueued_jobs()
        run = self.env["esp.backfill"].browse(action["res_id"])
        self.assertEqual(run.batch_ids.mapped("total"), [10])
        return {job.method_name: job for job in self.trap.enqueued_jobs}

    def test_next_chunk_waits_for_a_used_up_rate_limit_window(self):
        """No 429 needed: a window with no request left delays the next
        chunk until its reset; a window with room left does not."""
        jobs = self._first_chunk_with_headers(
            {
                "RateLimit-Limit": "150",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "42",
            }
        )
        wait = (jobs["_esp_step"].eta - jobs["_esp_step"].date_created).total_seconds()
        self.assertGreaterEqual(wait, 41)
        self.assertLessEqual(wait, 44)
        self.trap.enqueued_jobs.clear()
        jobs = self._first_chunk_with_headers(
            {
                "RateLimit-Limit": "150",
                "RateLimit-Remaining": "3",
                "RateLimit-Reset": "42",
            }
        )
        self.assertFalse(jobs["_esp_step"].eta)

    def test_run_ends_at_a_prompt_poll_after_the_last_chunk(self):
        """After the last chunk a poll comes within seconds, beside the
        regular one, and finishes the run once the ESP is done."""
        jobs = self._first_chunk_with_headers({})
        self.assertIn("_esp_poll", jobs)
        self.patch(type(self.env["esp.backfill"]), "_esp_chunk_size", lambda run: 500)

        def steps_only():
            self.trap.enqueued_jobs = [
                job for job in self.trap.enqueued_jobs if job.method_name == "_esp_step"
            ]

        with self._mock() as rsps:
            self._klaviyo_bulk(rsps)
            steps_only()
            self.trap.perform_enqueued_jobs()  # the rest of the partners
            steps_only()
            self.trap.perform_enqueued_jobs()  # nothing left: the last poll
            last = [
                job
                for job in self.trap.enqueued_jobs
                if job.identity_key.endswith(":last_poll")
            ]
            self.assertEqual(len(last), 1)
            delay = (last[0].eta - last[0].date_created).total_seconds()
            self.assertLessEqual(delay, const.BACKFILL_FINAL_POLL_SECONDS + 1)
            done = {
                "data": {
                    "type": "profile-bulk-import-job",
                    "id": "J1",
                    "attributes": {"status": "complete", "completed_count": 10},
                }
            }
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/profile-bulk-import-jobs/J1",
                json=done,
            )
            self.trap.enqueued_jobs = last
            self.trap.perform_enqueued_jobs()
        run = self.env["esp.backfill"].search([], limit=1)
        self.assertEqual(run.state, "done")

    def test_run_covers_what_existed_at_its_start_and_ends(self):
        """Orders confirmed while the run goes are synced live, not chased:
        the run ends (it hung before, waiting for them) without sending them."""
        old = self._order()
        self.trap.enqueued_jobs.clear()
        action = self._wizard(scope="orders").action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        self.assertEqual(run.last_order_id, old.id)
        new = self._order()
        self.trap.enqueued_jobs = [
            job for job in self.trap.enqueued_jobs if job.model_name == "esp.backfill"
        ]
        with self._mock() as rsps:
            self._klaviyo_bulk(rsps)
            self._run_jobs(rounds=20)
            bodies = json.dumps(
                [
                    json.loads(c.request.body)
                    for c in rsps.calls
                    if c.request.url.endswith("/api/event-bulk-create-jobs")
                ]
            )
        self.assertEqual(run.state, "done")
        self.assertEqual(run.sent_count, run.total_count)
        self.assertIn(f"sale.order:{old.id}:order_placed", bodies)
        self.assertNotIn(f"sale.order:{new.id}:order_placed", bodies)

    def test_a_failed_run_never_shows_the_credentials(self):
        """Whatever an adapter puts in its error, the run's last error, the
        job's retry message and the exception are written without the key."""
        adapter = self._recorder()
        leak = f"refused key {KLAVIYO_KEY}"
        adapter.fail(
            "bulk_import_profiles", EspError(leak, category="transient", status=503)
        )
        adapter.fail(
            "bulk_import_profiles",
            EspError(leak, category="authentication", status=401),
        )
        self.trap.enqueued_jobs.clear()
        action = self._wizard(scope="profiles").action_start()
        run = self.env["esp.backfill"].browse(action["res_id"])
        try:  # not assertRaises: it would roll back what the step wrote
            run._esp_step()  # the outage: retried, the key left out
        except RetryableJobError as retry:
            self.assertNotIn(KLAVIYO_KEY, str(retry))
        else:
            self.fail("an outage retries the step")
        self.assertIn("refused key", run.last_error)
        self.assertNotIn(KLAVIYO_KEY, run.last_error)
        run._esp_step()  # refused: the run fails, recorded
        self.assertEqual(run.state, "failed")
        self.assertIn("refused key", run.last_error)
        self.assertNotIn(KLAVIYO_KEY, run.last_error)
        exception = self.env["esp.sync.exception"].search(
            [("res_model", "=", "esp.backfill"), ("res_id", "=", run.id)]
        )
        self.assertTrue(exception)
        self.assertNotIn(KLAVIYO_KEY, exception.message)
