"""Dotdigital imports: NotStarted -> Processing -> Complete on the sandbox clock."""

import threading
import time
import uuid

from .common import ApiError


class JobsMixin:
    """Import jobs of :class:`~sandbox.dotdigital.DotdigitalApp`."""

    def _start_job(self, state, kind, body, **fields):
        """Queue an import of ``kind`` (``contacts``/``insightData``)."""
        import_id = str(uuid.uuid4())
        job = {
            "importId": import_id,
            "status": _JOB_STATES[kind][0],
            **fields,
            "_kind": kind,
            "_body": body,
            "_submitted": self.now(),
        }
        state["imports"][import_id] = job
        threading.Thread(
            target=self._job_worker,
            args=(state, job),
            name=f"dotdigital-import-{import_id[:8]}",
            daemon=True,
        ).start()
        return import_id

    def _job_worker(self, state, job):
        """Complete ``job`` when the sandbox clock says so, polled or not."""
        while True:
            with self.lock:
                self._progress(state, job)
                if "_body" not in job:
                    return
            time.sleep(0.02)

    def _progress(self, state, job):
        """First state, then the middle one at half of ``job_seconds``, then done.

        The import applies when it completes.
        """
        if "_body" not in job:
            return
        waiting, running, done = _JOB_STATES[job["_kind"]]
        elapsed = self.now() - job["_submitted"]
        seconds = float(self._option("job_seconds", 0.5) or 0)
        if job["status"] == waiting and elapsed >= seconds / 2:
            job["status"] = running
        if elapsed < seconds:
            return
        body = job.pop("_body")
        if job["_kind"] == "contacts":
            self._run_contacts_import(state, job, body)
        else:
            self._run_insight_import(state, job, body)
        job["status"] = done

    def _job_status(self, request, state, kind):
        import_id = request.path_params["importId"]
        job = state["imports"].get(import_id)
        if job is None or job["_kind"] != kind:
            raise ApiError(
                404,
                f"The import request '{import_id}' could not be found!",
                code=f"{kind}:importNotFound",
            )
        self._progress(state, job)
        return {k: v for k, v in job.items() if not k.startswith("_")}


_JOB_STATES = {
    "insightData": ("NotStarted", "Processing", "Complete"),
    "contacts": ("NotFinished", "NotFinished", "Finished"),
}
