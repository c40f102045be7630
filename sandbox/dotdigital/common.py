"""Shared pieces of the Dotdigital emulator: constants, errors, helpers."""

import base64
import re
import threading

from ..core import parse_iso

PASSWORD = "sandbox-password"
USER_PREFIX = "apiuser-sandbox"
DENIED = "Authorization has been denied for this request."
TIER_LIMITS = {"low": 100, "medium": 500, "high": 1000}
DEFAULT_FIELDS = (
    ("FIRSTNAME", "String"),
    ("LASTNAME", "String"),
    ("FULLNAME", "String"),
    ("GENDER", "String"),
    ("POSTCODE", "String"),
)
RESUBSCRIBE_FROM = ("unsubscribed", "suppressed")
V2_STATUS = {
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "suppressed": "Suppressed",
    "pendingOptIn": "PendingOptIn",
    "softBounced": "SoftBounced",
    "hardBounced": "HardBounced",
    "ispComplained": "IspComplained",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Per request thread: which API family (v2 / contacts / insightData) is served.
LOCAL = threading.local()


class ApiError(Exception):
    """A Dotdigital error raised from inside a handler."""

    def __init__(self, status, detail, code=None, details=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.details = details


def api_family(path):
    """``v2``, ``contacts`` or ``insightData``: picks the error shape."""
    if path.startswith("/contacts/v3"):
        return "contacts"
    if path.startswith("/insightData/v3"):
        return "insightData"
    return "v2"


def field_name(pointer):
    """A spec violation's field as a dotted name (``channelProperties.email``)."""
    if pointer.startswith("query."):
        return pointer[len("query.") :]
    return pointer.strip("/").replace("/", ".") or "(body)"


def by_email(state, email):
    """The contact with ``email`` (any case) in ``state``, or ``None``."""
    contact_id = state["emails"].get(email.strip().lower())
    return state["contacts"].get(contact_id)


def select(request, rows):
    """``rows`` cut by v2's ``select`` (max 1000) and ``skip``."""
    try:
        count = min(int(request.arg("select", 1000)), 1000)
        skip = int(request.arg("skip", 0))
    except ValueError:
        count, skip = 1000, 0
    return rows[skip : skip + count]


def to_int(value):
    """``int(value)``, or ``None`` when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_time(value):
    """An ISO 8601 date or date-time, UTC when no offset is given."""
    return parse_iso(value)


def page_link(path, offset):
    """A v3 pagination link (``marker`` and ``link``) to the page at ``offset``."""
    marker = base64.urlsafe_b64encode(str(offset).encode()).decode()
    return {"marker": marker, "link": f"{path}?marker={marker}"}
