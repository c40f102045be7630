"""Klaviyo bulk jobs: profile imports (with per-row errors) and event jobs."""

import hashlib
from urllib.parse import quote

from ..base import BulkJob
from ..errors import ErrorCategory, EspError, redact
from ..wire import dig
from . import builders as b
from . import bulk_consent, const
from .errors import field_from_source


def chunk_profiles(
    profiles, max_count=const.MAX_BULK_PROFILES, max_bytes=const.MAX_BULK_BYTES
):
    """Split ``profiles`` into lists one bulk import job accepts.

    Each list holds at most ``max_count`` profiles and serialises under
    ``max_bytes`` (with room for the job envelope).
    """
    budget = max_bytes - 1024
    return _chunks(
        profiles,
        lambda profile: len(b.encode(b.build_profile_resource(profile).dump())) + 1,
        lambda count, size: count >= max_count or size > budget,
    )


def chunk_events(order_events, max_events=const.MAX_BULK_EVENTS):
    """Split order events into lists of at most ``max_events`` Klaviyo events.

    A placed order counts one event per line on top of "Placed Order".
    """
    return _chunks(
        order_events, b.count_events, lambda _count, events: events > max_events
    )


def _chunks(items, weigh, full):
    """Yield lists of ``items``; ``full(length, weight)`` says whether adding
    the next item (``weight`` counts it in) would overfill the current list."""
    chunk, total = [], 0
    for item in items:
        weight = weigh(item)
        if chunk and full(len(chunk), total + weight):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += weight
    if chunk:
        yield chunk


class BulkMixin:
    """Bulk import and event jobs (needs ``_request``, ``_paginate``)."""

    def bulk_import_profiles(self, profiles):
        """Start one profile import job (use :func:`chunk_profiles` to split)."""
        profiles = list(profiles)
        if len(profiles) > const.MAX_BULK_PROFILES:
            raise EspError(
                f"{len(profiles)} profiles in one import job; Klaviyo accepts "
                f"{const.MAX_BULK_PROFILES}. Split them with chunk_profiles().",
                category=ErrorCategory.DATA,
            )
        resources = []
        for profile in profiles:
            self._require_email(profile.email)
            resource = b.build_profile_resource(profile)
            if len(b.encode(resource.dump())) > const.MAX_PROFILE_BYTES:
                raise EspError(
                    f"Profile {profile.email} is larger than Klaviyo's 100 KB "
                    "per-profile limit; trim its custom properties.",
                    category=ErrorCategory.DATA,
                    field="properties",
                )
            resources.append(resource)
        body = b.build_profile_import_job(resources).dump()
        if len(b.encode(body)) > const.MAX_BULK_BYTES:
            raise EspError(
                "The import job is larger than Klaviyo's 5 MB limit. "
                "Split it with chunk_profiles().",
                category=ErrorCategory.DATA,
            )
        answer = self._request("POST", const.PATH_PROFILE_IMPORT_JOBS, json=body)
        bulk_consent.send_opt_outs(self, profiles)
        return self._bulk_job(answer.get("data") or {}, len(resources))

    @staticmethod
    def _bulk_job(data, total=0):
        attributes = data.get("attributes") or {}
        job = BulkJob(
            job_id=str(data.get("id") or ""),
            status=const.JOB_STATUS.get(attributes.get("status"), "queued"),
            total=attributes.get("total_count") or total,
            completed=attributes.get("completed_count") or 0,
            failed=attributes.get("failed_count") or 0,
        )
        if job.status == "complete" and job.failed and not job.completed:
            job.status = "failed"
        return job

    def get_bulk_job(self, job):
        """Refresh a profile import job; event jobs are final once accepted."""
        job_id = job.job_id if isinstance(job, BulkJob) else str(job)
        if job_id.startswith(const.EVENT_JOB_PREFIX):
            return job if isinstance(job, BulkJob) else BulkJob(job_id, "complete")
        path = const.PATH_PROFILE_IMPORT_JOB.format(id=quote(job_id, safe=""))
        refreshed = self._bulk_job(self._request("GET", path).get("data") or {})
        refreshed.job_id = refreshed.job_id or job_id
        if refreshed.failed:
            refreshed.errors = self._import_errors(job_id)
        return refreshed

    def _import_errors(self, job_id):
        errors = []
        path = const.PATH_PROFILE_IMPORT_ERRORS.format(id=quote(job_id, safe=""))
        for item in self._paginate(path, {"page[size]": const.PAGE_SIZE}):
            attributes = item.get("attributes") or {}
            original = attributes.get("original_payload") or {}
            key = (
                original.get("email")
                or dig(original, "attributes", "email")
                or original.get("external_id")
                or field_from_source(attributes.get("source"))
                or item.get("id", "")
            )
            message = attributes.get("detail") or attributes.get("title") or ""
            errors.append((str(key), redact(message, self.settings.secrets)))
        return errors

    def bulk_send_events(self, events):
        """Send order events in as many event bulk jobs as Klaviyo's limits need.

        Event jobs are final once accepted (Klaviyo has no status for them),
        so the jobs are reported as one complete :class:`BulkJob`.
        """
        events = list(events)
        if not events:
            return BulkJob(f"{const.EVENT_JOB_PREFIX}empty", "complete")
        jobs = [self._send_event_job(chunk) for chunk in chunk_events(events)]
        if len(jobs) == 1:
            return jobs[0]
        total = sum(job.total for job in jobs)
        return BulkJob(
            job_id=jobs[0].job_id, status="complete", total=total, completed=total
        )

    def _send_event_job(self, events):
        """One event bulk create job (at most 1,000 events and 5 MB)."""
        count = sum(b.count_events(event) for event in events)
        if count > const.MAX_BULK_EVENTS:
            raise EspError(
                f"{count} Klaviyo events in one bulk job; Klaviyo accepts "
                f"{const.MAX_BULK_EVENTS}. Split them with chunk_events().",
                category=ErrorCategory.DATA,
            )
        for event in events:
            self._require_email(event.order.email)
        body = b.build_event_bulk_request(events).dump()
        if len(b.encode(body)) > const.MAX_BULK_BYTES:
            raise EspError(
                "The event job is larger than Klaviyo's 5 MB limit. "
                "Split it with chunk_events().",
                category=ErrorCategory.DATA,
            )
        self._request("POST", const.PATH_EVENT_BULK_JOBS, json=body)
        digest = hashlib.sha256(
            "\n".join(event.unique_id for event in events).encode()
        ).hexdigest()[:16]
        return BulkJob(
            job_id=f"{const.EVENT_JOB_PREFIX}{digest}",
            status="complete",
            total=count,
            completed=count,
        )
