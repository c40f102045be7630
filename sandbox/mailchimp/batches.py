"""Mailchimp batch operations (``/3.0/batches``).

A batch moves pending -> started -> finished along the sandbox clock
(``job_seconds``); its operations then run in order through the app's router,
each validated like a direct request. ``response_body_url`` serves the results
as a JSON list (the real API: a tar.gz of the same JSON items).
"""

import json
import threading
import time
import urllib.parse
import uuid

from .. import specs
from ..core import MethodNotAllowed, Request, Response, RouteNotFound
from .common import MAX_PENDING_BATCHES, ApiError, not_found, page


class BatchesMixin:
    """Batch endpoints of :class:`~sandbox.mailchimp.MailchimpApp`."""

    # -- batches --------------------------------------------------------------
    def _batches(self, request, state):
        for batch in state["batches"].values():
            self._progress(request.account, batch)
        batches = [self._batch_view(b) for b in state["batches"].values()]
        return {"batches": page(request, batches), "total_items": len(batches)}

    def _batch_view(self, batch):
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _add_batch(self, request, state):
        pending = sum(
            b["status"] in ("pending", "started", "preprocessing")
            for b in state["batches"].values()
        )
        if pending >= MAX_PENDING_BATCHES:
            raise ApiError(
                429,
                f"You have more than {MAX_PENDING_BATCHES} pending batches. "
                "Please wait for some to finish.",
            )
        operations = (request.json or {}).get("operations") or []
        batch_id = uuid.uuid4().hex[:10]
        host = request.headers.get("Host") or "127.0.0.1"
        batch = {
            "id": batch_id,
            "status": "pending",
            "total_operations": len(operations),
            "finished_operations": 0,
            "errored_operations": 0,
            "submitted_at": self._iso(),
            "completed_at": "",
            "response_body_url": "",
            "_results": [],
            "_url": f"http://{host}/{self.name}/_results/{batch_id}",
        }
        batch["_ops"] = operations
        batch["_submitted"] = self.now()
        state["batches"][batch_id] = batch
        worker = threading.Thread(
            target=self._batch_worker,
            args=(request.account, batch),
            name=f"mailchimp-batch-{batch_id}",
            daemon=True,
        )
        worker.start()
        return self._batch_view(batch)

    def _get_batch(self, request, state):
        batch = state["batches"].get(request.path_params["batch_id"])
        if batch is None:
            raise not_found()
        self._progress(request.account, batch)
        return self._batch_view(batch)

    def _delete_batch(self, request, state):
        if state["batches"].pop(request.path_params["batch_id"], None) is None:
            raise not_found()

    def _batch_results(self, request, state):
        batch_id = request.path_params["batch_id"]
        for account in self.accounts.values():
            batch = account["batches"].get(batch_id)
            if batch is not None and batch["status"] == "finished":
                return Response(200, list(batch["_results"]))
        raise not_found()

    # -- execution ------------------------------------------------------------
    def _batch_worker(self, key, batch):
        """Move ``batch`` along the sandbox clock until it is finished."""
        while True:
            with self.lock:
                current = self.accounts.get(key, {}).get("batches", {})
                if current.get(batch["id"]) is not batch:
                    return  # deleted, or the sandbox was reset
                self._progress(key, batch)
                if batch["status"] == "finished":
                    return
            time.sleep(0.02)

    def _progress(self, key, batch):
        """pending -> started (half of ``job_seconds``) -> finished (all of it).

        The operations run when the batch finishes, in order, through the
        router as separate requests would.
        """
        if batch["status"] == "finished":
            return
        elapsed = self.now() - batch["_submitted"]
        seconds = float(self._option("job_seconds", 0.5) or 0)
        if batch["status"] == "pending" and elapsed >= seconds / 2:
            batch["status"] = "started"
        if elapsed < seconds:
            return
        for op in batch.pop("_ops", []):
            status, body = self._run_operation(key, op)
            batch["_results"].append(
                {
                    "status_code": status,
                    "operation_id": op.get("operation_id"),
                    "response": json.dumps(body),
                }
            )
            batch["finished_operations"] += 1
            if status >= 400:
                batch["errored_operations"] += 1
        batch["status"] = "finished"
        batch["completed_at"] = self._iso()
        batch["response_body_url"] = batch["_url"]

    def _run_operation(self, key, op):
        """Run one batch operation through the router, as a request would."""
        method = str(op.get("method", "GET")).upper()
        path = op.get("path") or "/"
        if not path.startswith("/3.0"):
            path = "/3.0" + (path if path.startswith("/") else "/" + path)
        raw = op.get("body")
        try:
            body = json.loads(raw) if isinstance(raw, str) and raw else raw
        except ValueError:
            return 400, self.error(400, "The request body is not valid JSON.").body
        path, _, raw_query = path.partition("?")
        query = urllib.parse.parse_qs(raw_query)
        query.update({k: [str(v)] for k, v in (op.get("params") or {}).items()})
        try:
            template, handler, params = self.router.match(method, path)
        except RouteNotFound:
            return 404, self.error(
                404, "The requested resource could not be found."
            ).body
        except MethodNotAllowed:
            return 405, self.error(405, "The requested method is not allowed.").body
        request = Request(
            method=method,
            path=path,
            query=query,
            body=(raw or "").encode() if isinstance(raw, str) else b"",
            json=body,
            path_params=params,
            provider=self.name,
            template=template,
            account=key,
        )
        if self._option("validate", True):
            violations = specs.validate_request(
                self.spec, method, template, body=body, query=query
            )
            if violations:
                response = self.validation_error(violations)
                return response.status, response.body
        try:
            response = self._respond(
                self._unwrap(handler), request, self.account_state(key)
            )
        except Exception as exc:
            response = self.error(500, f"Internal error: {type(exc).__name__}")
        return response.status, response.body

    def _unwrap(self, handler):
        return getattr(self, handler.__name__)
