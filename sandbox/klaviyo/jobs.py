"""Klaviyo asynchronous jobs: bulk profile import, suppression jobs."""

import json

from ..core import Response
from .common import (
    DEFAULT_TITLES,
    MAX_IMPORT_PROFILES,
    MAX_PROFILE_BYTES,
    ApiError,
    iso,
)


class JobsMixin:
    """Klaviyo asynchronous jobs: bulk profile import, suppression jobs."""

    # == bulk import jobs =======================================================
    def _new_job(self, state, kind, total):
        job = {
            "id": self._new_id(),
            "type": kind,
            "status": "queued",
            "created": self.now(),
            "started": None,
            "completed": None,
            "total": total,
            "completed_count": 0,
            "failed_count": 0,
            "errors": [],
            "profile_ids": [],
            "list_ids": [],
            "gets": 0,
        }
        state["jobs"][job["id"]] = job
        return job

    def _settle_jobs(self, state, touch=None):
        """Advance jobs: complete after ``job_seconds``, or one step per GET."""
        delay = float(self.sandbox.config.get("job_seconds", 0.5))
        for job in state["jobs"].values():
            if job["status"] == "complete":
                continue
            elapsed = self.now() - job["created"]
            if job is touch:
                job["gets"] += 1
            if elapsed >= delay or job["gets"] >= 2:
                self._run_job(state, job)
            elif job["gets"] >= 1 or elapsed >= delay / 2:
                job["status"] = "processing"
                job["started"] = job["started"] or self.now()

    def _run_job(self, state, job):
        job["started"] = job["started"] or self.now()
        action = job.get("apply")
        if action == "import":
            self._run_import(state, job)
        elif action == "suppress":
            for email in job["emails"]:
                self._suppress_email(state, email)
            job["completed_count"] = len(job["emails"])
        elif action == "unsuppress":
            for email in job["emails"]:
                profile = self._profile_by_email(state, email)
                if profile is None:
                    continue
                sub = profile["subscriptions"]["email"]
                sub["suppression"] = [
                    s for s in sub["suppression"] if s["reason"] != "USER_SUPPRESSED"
                ]
                profile["updated"] = self.now()
            job["completed_count"] = len(job["emails"])
        job["status"] = "complete"
        job["completed"] = self.now()

    def _run_import(self, state, job):
        for index, item in enumerate(job.pop("items")):
            pointer = f"/data/attributes/profiles/data/{index}"
            size = len(json.dumps(item))
            try:
                if size > MAX_PROFILE_BYTES:
                    raise ApiError(
                        400,
                        f"Profile payload of {size} bytes exceeds 100KB.",
                        pointer,
                        code="profile_too_large",
                    )
                profile, _created = self._upsert(state, item, pointer)
            except ApiError as exc:
                job["failed_count"] += 1
                job["errors"].append(
                    {
                        "id": self._new_id(),
                        "code": exc.code or "invalid",
                        "title": DEFAULT_TITLES.get(exc.status, "Invalid input."),
                        "detail": exc.detail,
                        "source": {"pointer": exc.field or pointer},
                        "original_payload": item,
                    }
                )
                continue
            for list_id in job["list_ids"]:
                if list_id in state["lists"]:
                    profile["lists"].add(list_id)
            job["profile_ids"].append(profile["id"])
            job["completed_count"] += 1

    def _job_resource(self, request, job):
        attributes = {
            "status": job["status"],
            "created_at": iso(job["created"]),
            "total_count": job["total"],
            "completed_count": job["completed_count"],
            "completed_at": iso(job["completed"]),
        }
        if job["type"] == "profile-bulk-import-job":
            attributes.update(
                failed_count=job["failed_count"],
                started_at=iso(job["started"]),
                expires_at=iso(job["created"] + 7 * 86400),
            )
        else:
            attributes["skipped_count"] = 0
        resource = {
            "type": job["type"],
            "id": job["id"],
            "attributes": attributes,
            "links": {"self": self._url(request, f"/api/{job['type']}s/{job['id']}")},
        }
        if job["type"] == "profile-bulk-import-job":
            resource["relationships"] = {
                "lists": {"data": [{"type": "list", "id": i} for i in job["list_ids"]]}
            }
        return resource

    def create_import_job(self, request):
        """``POST /api/profile-bulk-import-jobs``: queue an asynchronous bulk import
        (max 10,000 profiles).
        """
        data = request.json["data"]
        items = data["attributes"]["profiles"]["data"]
        if len(items) > MAX_IMPORT_PROFILES:
            return self.error(
                400,
                f"At most {MAX_IMPORT_PROFILES} profiles per job; got {len(items)}.",
                "/data/attributes/profiles/data",
            )
        lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
        with self.lock:
            state = self._state(request)
            for index, ref in enumerate(lists):
                if ref["id"] not in state["lists"]:
                    return self.error(
                        404,
                        f"List {ref['id']} not found.",
                        f"/data/relationships/lists/data/{index}/id",
                    )
            job = self._new_job(state, "profile-bulk-import-job", len(items))
            job.update(apply="import", items=items, list_ids=[r["id"] for r in lists])
            return Response(202, {"data": self._job_resource(request, job)})

    def _job(self, request, key, kind="profile-bulk-import-job"):
        state = self.account_state(request.account)
        job = state["jobs"].get(request.path_params[key])
        if job is None or job["type"] != kind:
            return state, None
        self._settle_jobs(state, touch=job)
        return state, job

    def get_suppression_job(self, request):
        """``GET /api/profile-suppression-bulk-create-jobs/{job_id}`` and ``GET
        /api/profile-suppression-bulk-delete-jobs/{job_id}``.
        """
        kind = request.template.split("/")[2][:-1]
        with self.lock:
            _state, job = self._job(request, "job_id", kind)
            if job is None:
                return self.error(
                    404, f"Job {request.path_params['job_id']} not found."
                )
            return {"data": self._job_resource(request, job)}

    def get_import_job(self, request):
        """``GET /api/profile-bulk-import-jobs/{job_id}``: the import job; each GET
        moves it one step towards complete.
        """
        with self.lock:
            _state, job = self._job(request, "job_id")
            if job is None:
                return self.error(
                    404, f"Job {request.path_params['job_id']} not found."
                )
            return {"data": self._job_resource(request, job)}

    def get_import_jobs(self, request):
        """``GET /api/profile-bulk-import-jobs``."""
        with self.lock:
            state = self._state(request)
            jobs = [
                j
                for j in state["jobs"].values()
                if j["type"] == "profile-bulk-import-job"
            ]
            return self._page(request, jobs, lambda j: self._job_resource(request, j))

    def get_import_errors(self, request):
        """``GET /api/profile-bulk-import-jobs/{id}/import-errors``."""
        with self.lock:
            _state, job = self._job(request, "id")
            if job is None:
                return self.error(404, f"Job {request.path_params['id']} not found.")
            data = [
                {
                    "type": "import-error",
                    "id": error["id"],
                    "attributes": {k: v for k, v in error.items() if k != "id"},
                }
                for error in job["errors"]
            ]
            return {"data": data, "links": {"self": self._url(request, request.path)}}

    def get_job_profiles(self, request):
        """``GET /api/profile-bulk-import-jobs/{id}/profiles``."""
        with self.lock:
            state, job = self._job(request, "id")
            if job is None:
                return self.error(404, f"Job {request.path_params['id']} not found.")
            found = [
                state["profiles"][i]
                for i in job["profile_ids"]
                if i in state["profiles"]
            ]
            return self._page(
                request, found, lambda p: self._profile_resource(request, p)
            )
