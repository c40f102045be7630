"""What a delivery would send, without sending it (data minimisation).

:func:`preview` runs the adapter's own method for a value (a profile, a
consent, an order event) on a transport that records each request and
answers it as an empty success, so the bodies shown are exactly the ones the
adapter builds. Only writes are kept (reads carry no personal data out of
Odoo), and never headers (they hold the credentials).
"""

import dataclasses
import json
from urllib.parse import urlsplit

import requests

from . import get_adapter
from .base import EspError

WRITES = ("POST", "PUT", "PATCH", "DELETE")
PREVIEW_URL = "https://preview.invalid"


@dataclasses.dataclass(frozen=True)
class PreviewRequest:
    """One request the adapter would send."""

    method: str
    path: str
    body: object = None


class RecordingTransport:
    """Records requests and answers each with an empty success."""

    def __init__(self):
        self.requests = []

    def send(self, method, url, **kwargs):
        body = kwargs.get("json")
        if body is None and kwargs.get("data"):
            body = _decoded(kwargs["data"])
        parts = urlsplit(url)
        self.requests.append(PreviewRequest(method, parts.path, body))
        response = requests.Response()
        response.status_code = 200
        response._content = b"{}"
        response.headers["Content-Type"] = "application/json"
        response.url = url
        return response


def preview(settings, method, value):
    """``(requests, note)``: the writes ``method`` would send for ``value``.

    ``note`` says why the list may be short (an adapter that stops when the
    empty answers are not what a real ESP says); it is empty otherwise.
    """
    transport = RecordingTransport()
    # Aimed at a host of its own: what the adapters cache per account (merge
    # tags, data fields known to exist) is never mixed with the real one's.
    settings = dataclasses.replace(
        settings,
        base_url=PREVIEW_URL,
        extra={**settings.extra, "api_endpoint": PREVIEW_URL},
    )
    adapter = get_adapter(settings, transport=transport)
    note = ""
    try:
        result = getattr(adapter, method)(value)
    except EspError as error:
        note = f"Preview stopped: {error.message}"
    else:
        if result is not None and result.skipped_reason:
            note = f"Nothing would be sent: {result.skipped_reason}"
    finally:
        _forget_preview_caches()
    writes = [r for r in transport.requests if r.method in WRITES]
    return writes, note


def as_text(requests_, note=""):
    """The requests as readable text: method, path and indented JSON body."""
    blocks = []
    for request in requests_:
        block = f"{request.method} {request.path}"
        if request.body is not None:
            block += "\n" + json.dumps(request.body, indent=2, sort_keys=True)
        blocks.append(block)
    if note:
        blocks.append(note)
    return "\n\n".join(blocks) or "Nothing would be sent."


def _decoded(data):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return data


def _forget_preview_caches():
    """Drop what a preview taught the adapters' per-process caches (it
    "created" merge fields and data fields that exist nowhere)."""
    from .dotdigital import adapter as dotdigital
    from .mailchimp import adapter as mailchimp

    for cache, lock in (
        (mailchimp._merge_tags_cache, mailchimp._merge_tags_lock),
        (dotdigital._fields_cache, dotdigital._fields_lock),
    ):
        with lock:
            for key in [k for k in cache if k and str(k[0]).startswith(PREVIEW_URL)]:
                del cache[key]
