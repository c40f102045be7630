"""Mailchimp batches: bulk member import, bulk order backfill, results."""

import json
import urllib.parse

from ..base import BulkJob, ErrorCategory, EspError
from ..events import EventKind
from . import batches, const, payloads, util

_KIND_ORDER = list(EventKind)


class BulkMixin:
    """Asynchronous work through ``POST /3.0/batches`` (needs ``_request``)."""

    @staticmethod
    def _check_size(items):
        if len(items) > const.BATCH_MAX_OPERATIONS:
            raise ValueError(f"at most {const.BATCH_MAX_OPERATIONS} items per batch")

    def _submit_batch(self, operations, errors, total):
        if not operations:
            return BulkJob(
                job_id="",
                status="complete" if not errors else "failed",
                total=total,
                failed=len(errors),
                errors=errors,
            )
        body = payloads.Batch(operations=operations).dump()
        batch = self._request("POST", const.BATCHES, json=body)
        return BulkJob(
            job_id=str(batch.get("id") or ""),
            status=const.BATCH_STATUS.get(batch.get("status"), "queued"),
            total=total,
            failed=len(errors),
            errors=errors,
        )

    @staticmethod
    def _batch_path(path):
        return path[len(const.API_PREFIX) :]

    def bulk_import_profiles(self, profiles):
        """One batch of member PUTs (``status_if_new`` only), keyed by email."""
        self._start()
        self._check_size(profiles)
        list_id = self._list_id()
        operations, errors, tags = [], [], set()
        for profile in profiles:
            try:
                email = self._email(profile.email)
                wanted = list(dict.fromkeys(t for t in profile.tags if t))
                body = self._member_body(profile, email, tags=wanted or None)
            except EspError as error:
                errors.append((profile.email, error.message))
                continue
            tags.update(body["merge_fields"])
            path = const.MEMBER.format(
                list_id=list_id, subscriber_hash=util.subscriber_hash(email)
            )
            operations.append(
                payloads.BatchOperation(
                    method="PUT",
                    path=self._batch_path(path),
                    operation_id=email,
                    body=json.dumps(body),
                )
            )
        if operations:
            self._ensure_merge_fields(list_id, tags)
        return self._submit_batch(operations, errors, len(profiles))

    def bulk_send_events(self, events):
        """One batch of order writes; events of one order merge into one write.

        Mailchimp runs a batch's operations in no set order, so each order
        gets a single operation carrying its latest state, keyed by the
        ``unique_id`` of its latest event.
        """
        self._start()
        self._check_size(events)
        store = self._store_id()
        grouped = {}
        for event in events:
            grouped.setdefault(str(event.order.order_id), []).append(event)
        operations, errors = [], []
        lines = []
        for order_id, group in grouped.items():
            group.sort(key=lambda e: _KIND_ORDER.index(EventKind(e.kind)))
            kinds = {EventKind(e.kind) for e in group} - {EventKind.RETURNED}
            last = group[-1]
            if not kinds:
                continue
            try:
                if EventKind.PLACED in kinds:
                    method = "POST"
                    path = const.ORDERS.format(store_id=store)
                    body = self._order_create(last, kinds)
                    lines.extend(last.order.lines)
                else:
                    method = "PATCH"
                    path = const.ORDER.format(store_id=store, order_id=order_id)
                    body = self._order_patch(last)
            except EspError as error:
                errors.append((last.unique_id, error.message))
                continue
            operations.append(
                payloads.BatchOperation(
                    method=method,
                    path=self._batch_path(path),
                    operation_id=last.unique_id,
                    body=json.dumps(body),
                )
            )
        if lines:
            self._ensure_products(store, lines)
        return self._submit_batch(operations, errors, len(operations) + len(errors))

    def get_bulk_job(self, job):
        """Refresh a batch; once finished, read its per-operation errors."""
        self._start()
        if not job.job_id:
            return job
        batch = self._request("GET", const.BATCH.format(batch_id=job.job_id))
        status = const.BATCH_STATUS.get(batch.get("status"), "processing")
        errors = list(job.errors)
        failed_remote = int(batch.get("errored_operations") or 0)
        if status == "complete" and failed_remote and batch.get("response_body_url"):
            seen = {key for key, _msg in errors}
            for key, message in self._batch_errors(batch["response_body_url"]):
                if key not in seen:
                    errors.append((key, message))
        local = len(job.errors)
        return BulkJob(
            job_id=job.job_id,
            status=status,
            total=job.total or int(batch.get("total_operations") or 0) + local,
            completed=int(batch.get("finished_operations") or 0) - failed_remote,
            failed=failed_remote + local,
            errors=errors,
        )

    def _batch_errors(self, url):
        """Download a finished batch's results (no credentials: the real URL
        is pre-signed and must not receive our Authorization header)."""
        url = urllib.parse.urljoin(self.base_url + "/", url)
        self._count += 1
        response = self.transport.send("GET", url)
        if response.status_code >= 400:
            raise EspError(
                f"Could not download Mailchimp batch results (HTTP "
                f"{response.status_code})",
                category=ErrorCategory.TRANSIENT,
                status=response.status_code,
            )
        try:
            return batches.result_errors(batches.parse_results(response.content))
        except (ValueError, OSError) as exc:
            raise EspError(
                f"Mailchimp batch results are unreadable: {type(exc).__name__}",
                category=ErrorCategory.TRANSIENT,
            ) from exc
