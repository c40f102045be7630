"""Read Mailchimp batch results (a tar.gz of JSON files, or plain JSON)."""

import io
import json
import tarfile


def parse_results(content):
    """Return the list of operation results held in ``content`` (bytes).

    The real ``response_body_url`` serves a gzipped tar of JSON arrays; the
    sandbox serves the JSON array itself. Both are accepted.
    """
    content = content or b""
    stripped = content.lstrip()
    if stripped[:1] in (b"[", b"{"):
        data = json.loads(stripped)
        return data if isinstance(data, list) else data.get("operations", [])
    results = []
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            handle = archive.extractfile(member)
            data = json.loads(handle.read() or b"[]")
            results.extend(data if isinstance(data, list) else [data])
    return results


def _already_there(status, response):
    """A historical order POSTed again: Mailchimp has it (the live sync sent
    it, or an earlier backfill did). Orders have no upsert; this is success."""
    detail = str(response.get("detail") or "").lower()
    return status == 400 and "already exists" in detail


def result_errors(results):
    """``[(operation_id, message)]`` for the operations that failed."""
    errors = []
    for item in results:
        status = int(item.get("status_code") or 0)
        if status < 400:
            continue
        response = item.get("response")
        if isinstance(response, str):
            try:
                response = json.loads(response)
            except ValueError:
                response = {"detail": response}
        response = response if isinstance(response, dict) else {}
        if _already_there(status, response):
            continue
        message = response.get("detail") or response.get("title") or f"HTTP {status}"
        fields = [
            f"{e.get('field')}: {e.get('message')}"
            for e in response.get("errors") or []
            if isinstance(e, dict)
        ]
        if fields:
            message = f"{message} ({'; '.join(fields)})"
        errors.append((item.get("operation_id") or "", f"HTTP {status}: {message}"))
    return errors
