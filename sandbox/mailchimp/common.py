"""Shared pieces of the Mailchimp emulator: constants, errors, payloads."""

import hashlib
import re

ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
DEFAULT_LIST_ID = "aud00001"
DEFAULT_LIST_NAME = "Sandbox Audience"
MAX_CONNECTIONS = 10
MAX_PENDING_BATCHES = 500
MAX_BATCH_MEMBERS = 500
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
COMPLIANCE_DETAIL = (
    "{email} is in a compliance state due to unsubscribe, bounce, or "
    "compliance review and cannot be subscribed."
)
VALIDATION_DETAIL = (
    "The resource submitted could not be validated. For field-specific "
    "details, see the 'errors' array."
)
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")
DEFAULT_MERGE_FIELDS = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
)
WEBHOOK_EVENTS = (
    "subscribe",
    "unsubscribe",
    "profile",
    "cleaned",
    "upemail",
    "campaign",
)


def subscriber_hash(email):
    """Mailchimp's member id: md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class ApiError(Exception):
    """A Mailchimp problem response raised from inside a handler."""

    def __init__(self, status, detail, title=None, errors=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors


def not_found():
    """The 404 problem every unknown resource gets."""
    return ApiError(404, "The requested resource could not be found.")


def webhook_kind(status):
    """The webhook event a new member ``status`` causes ("" for none)."""
    return {"subscribed": "subscribe", "unsubscribed": "unsubscribe"}.get(status, "")


def page(request, items):
    """``items`` cut by the ``count`` (default 10, max 1000) and ``offset``."""
    try:
        count = min(int(request.arg("count", 10)), 1000)
        offset = int(request.arg("offset", 0))
    except ValueError:
        count, offset = 10, 0
    return items[offset : offset + count]


def webhook_payload(kind, member, list_id, fired_at, old_email=None):
    """Form fields of a Mailchimp list webhook, as Mailchimp posts them."""
    data = {"type": kind, "fired_at": fired_at}
    if kind == "upemail":
        data.update(
            {
                "data[list_id]": list_id,
                "data[new_id]": member["unique_email_id"],
                "data[new_email]": member["email_address"],
                "data[old_email]": old_email or "",
            }
        )
        return data
    if kind == "cleaned":
        data.update(
            {
                "data[list_id]": list_id,
                "data[campaign_id]": "",
                "data[reason]": "hard",
                "data[email]": member["email_address"],
            }
        )
        return data
    if kind == "unsubscribe":
        data.update({"data[action]": "unsub", "data[reason]": "manual"})
    data.update(
        {
            "data[id]": member["unique_email_id"],
            "data[list_id]": list_id,
            "data[email]": member["email_address"],
            "data[email_type]": member["email_type"],
            "data[ip_opt]": member["ip_opt"],
            "data[web_id]": str(member["web_id"]),
            "data[merges][EMAIL]": member["email_address"],
        }
    )
    for tag, value in member["merge_fields"].items():
        if isinstance(value, dict):
            for part, sub in value.items():
                data[f"data[merges][{tag}][{part}]"] = str(sub)
        else:
            data[f"data[merges][{tag}]"] = "" if value is None else str(value)
    return data
