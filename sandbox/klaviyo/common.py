"""Constants and helpers shared by the Klaviyo emulator's modules."""

import datetime
import hashlib
import hmac
import re

REVISION = "2026-07-15"
KEY_PREFIX = "pk_sandbox"
MAX_BULK_BYTES = 5 * 1024 * 1024
MAX_PROFILE_BYTES = 100 * 1024
MAX_IMPORT_PROFILES = 10000
MAX_BULK_EVENTS = 1000
MAX_SUBSCRIBE = 1000
MAX_UNSUBSCRIBE = 100
MAX_SUPPRESS = 100
LIFTED_BY_SUBSCRIBE = ("UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED")
SUPPRESSION_REASONS = (
    "USER_SUPPRESSED",
    "UNSUBSCRIBE",
    "HARD_BOUNCE",
    "SPAM_REPORT",
    "INVALID_EMAIL",
)
TOPICS = {
    "unsubscribe": "event:klaviyo.unsubscribed_from_email_marketing",
    "subscribe": "event:klaviyo.subscribed_to_email_marketing",
    "HARD_BOUNCE": "event:klaviyo.bounced_email",
    "SPAM_REPORT": "event:klaviyo.marked_email_as_spam",
    "USER_SUPPRESSED": "event:klaviyo.suppressed_email",
    "INVALID_EMAIL": "event:klaviyo.suppressed_email",
}
METRIC_NAMES = {
    "event:klaviyo.unsubscribed_from_email_marketing": (
        "Unsubscribed from Email Marketing"
    ),
    "event:klaviyo.subscribed_to_email_marketing": "Subscribed to Email Marketing",
    "event:klaviyo.bounced_email": "Bounced Email",
    "event:klaviyo.marked_email_as_spam": "Marked Email as Spam",
    "event:klaviyo.suppressed_email": "Suppressed Email",
}
IDENTIFIERS = ("email", "external_id", "phone_number")
PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
PROFILE_FILTERS = {
    "id": ("any", "equals"),
    "email": ("any", "equals"),
    "phone_number": ("any", "equals"),
    "external_id": ("any", "equals"),
    "_kx": ("equals",),
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
    "subscriptions.email.marketing.list_suppressions.reason": ("equals",),
    "subscriptions.email.marketing.list_suppressions.timestamp": (
        "greater-or-equal",
        "greater-than",
        "less-or-equal",
        "less-than",
    ),
    "subscriptions.email.marketing.list_suppressions.list_id": ("equals",),
    "subscriptions.email.marketing.suppression.reason": ("equals",),
    "subscriptions.email.marketing.suppression.timestamp": (
        "greater-or-equal",
        "greater-than",
        "less-or-equal",
        "less-than",
    ),
}
EVENT_FILTERS = {
    "metric_id": ("equals",),
    "profile_id": ("equals",),
    "datetime": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
    "timestamp": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
}
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
REVISION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
DEFAULT_TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    502: "Bad gateway.",
    503: "Service unavailable.",
}
DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "throttled",
    500: "error",
}


def sign_webhook(secret, body, timestamp):
    """Klaviyo's webhook signature: hex HMAC-SHA256 of body + timestamp."""
    data = body if isinstance(body, bytes) else body.encode()
    return hmac.new(
        secret.encode(), data + timestamp.encode(), hashlib.sha256
    ).hexdigest()


def iso(epoch):
    """Klaviyo's datetime format (``2026-01-01T10:00:00+00:00``)."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


class ApiError(Exception):
    """A Klaviyo error to answer with (status, detail, JSON pointer, code)."""

    def __init__(self, status, detail, field=None, code=None, meta=None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.code, self.meta = (
            status,
            detail,
            field,
            code,
            meta,
        )


def blank_channel():
    """Consent state of a channel nobody subscribed to yet."""
    return {
        "consent": "NEVER_SUBSCRIBED",
        "consent_timestamp": None,
        "last_updated": None,
        "method": None,
        "custom_method_detail": None,
        "double_optin": None,
        "suppression": [],
        "list_suppressions": [],
    }


def subscriptions_out(profile):
    """The ``subscriptions`` block Klaviyo returns for a profile."""
    email = profile["subscriptions"]["email"]
    sms = profile["subscriptions"]["sms"]
    return {
        "email": {
            "marketing": {
                "can_receive_email_marketing": email["consent"] == "SUBSCRIBED"
                and not email["suppression"],
                "consent": email["consent"],
                "consent_timestamp": iso(email["consent_timestamp"]),
                "last_updated": iso(email["last_updated"]),
                "method": email["method"],
                "method_detail": "",
                "custom_method_detail": email["custom_method_detail"],
                "double_optin": email["double_optin"],
                "suppression": [
                    {"reason": s["reason"], "timestamp": iso(s["timestamp"])}
                    for s in email["suppression"]
                ],
                "list_suppressions": [
                    {**s, "timestamp": iso(s["timestamp"])}
                    for s in email["list_suppressions"]
                ],
            }
        },
        "sms": {
            "marketing": {
                "can_receive_sms_marketing": sms["consent"] == "SUBSCRIBED",
                "consent": sms["consent"],
                "consent_timestamp": iso(sms["consent_timestamp"]),
                "method": sms["method"],
                "method_detail": "",
                "last_updated": iso(sms["last_updated"]),
            }
        },
    }


def profile_value(profile, field):
    """A profile field as filters see it (suppression fields are lists)."""
    if field in ("created", "updated"):
        return profile[field]
    if field.startswith("subscriptions.email.marketing."):
        rest = field[len("subscriptions.email.marketing.") :]
        group, _sep, attr = rest.partition(".")
        entries = profile["subscriptions"]["email"].get(group) or []
        return [entry.get(attr) for entry in entries]
    return profile.get(field)


def event_value(event, field):
    """An event field as filters see it."""
    if field in ("datetime", "timestamp"):
        return event["timestamp"]
    return event.get(field)


def catalog_value(item, field):
    """A catalog item/variant field as filters see it."""
    if field == "ids":
        return item["id"]
    if field == "item.id":
        return item.get("item_id")
    return item.get(field)


def sort_items(items, sort, lookup):
    """Sort by a Klaviyo ``sort`` value (``-field`` is descending)."""
    if not sort:
        return items
    field = sort.lstrip("-")

    def key(item):
        value = lookup(item, field)
        if isinstance(value, list):
            value = max((v for v in value if v is not None), default=None)
        return (value is None, value if value is not None else 0)

    return sorted(items, key=key, reverse=sort.startswith("-"))


def lowercase_values(value):
    """Lower-case a filter value or list of values (emails)."""
    if isinstance(value, list):
        return [lowercase_values(v) for v in value]
    return value.lower() if isinstance(value, str) else value


def identity_of(item):
    """Only the identifiers of a profile resource (for consent jobs)."""
    attributes = item.get("attributes") or {}
    identity = {
        k: attributes[k]
        for k in ("email", "phone_number", "external_id")
        if attributes.get(k)
    }
    resource = {"type": "profile", "attributes": identity}
    if item.get("id"):
        resource["id"] = item["id"]
    return resource


def long_string(value, pointer):
    """Pointer of the first string longer than 100KB, or ``None``."""
    if isinstance(value, str):
        return pointer if len(value.encode()) > MAX_PROFILE_BYTES else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, sub in items:
        found = long_string(sub, f"{pointer}/{key}")
        if found:
            return found
    return None


def consent_text(profile):
    """Human-readable email consent for the HTML page."""
    email = profile["subscriptions"]["email"]
    text = email["consent"].lower().replace("_", " ")
    if email["suppression"]:
        reasons = ", ".join(s["reason"] for s in email["suppression"])
        text += f" (suppressed: {reasons})"
    if profile["pending_lists"]:
        text += " (double opt-in pending)"
    return text


def mask_key(key):
    """An API key shortened for display."""
    return key[:10] + "…" + key[-4:] if len(key) > 14 else key
