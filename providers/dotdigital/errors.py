"""Turn Dotdigital error bodies (v2 and v3 shapes) into classified EspErrors."""

from ..errors import ErrorCategory, EspError, category_for_status
from . import const


def parse_error(response):
    """``(code, description, [(item, description)])`` from either shape."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("errorCode") or "")
    text = str(body.get("description") or body.get("message") or "").strip()
    details = [
        (str(d.get("item") or ""), str(d.get("description") or ""))
        for d in body.get("details") or []
        if isinstance(d, dict)
    ]
    return code, text, details


def error_from_response(response):
    """Classify a non-2xx Dotdigital response; plain-language message.

    The wait before a retry (``Retry-After``, else ``X-RateLimit-Reset``) is
    read from the headers by the request path.
    """
    status = response.status_code
    code, text, details = parse_error(response)
    category = category_for_status(status)
    field = None
    message = f"Dotdigital answered HTTP {status}" + (f": {text}" if text else "")
    if status == 429:
        message = "Dotdigital rate limit reached; retry later"
    elif status in (401, 403):
        message = (
            "Dotdigital refused the API user or its permissions; check the API "
            "user, its password and the account region"
        )
    elif status == 404:
        category = ErrorCategory.CONFIGURATION
        if code == const.CODE_CONTACT_NOT_FOUND:
            category = ErrorCategory.DATA
        message = (
            "Dotdigital could not find "
            + (text or "the resource")
            + (
                ": " + ", ".join(item for item, _d in details if item)
                if details
                else ""
            )
        )
    elif status == 409:
        category = ErrorCategory.DATA
    elif details and status < 500:
        field = details[0][0] or None
        extra = "; ".join(f"{i}: {d}" for i, d in details)
        message = f"Dotdigital rejected the data: {text} ({extra})"
    error = EspError(
        message, category=category, status=status, field=field, code=code or None
    )
    error.details = details  # [(item, description)], for targeted retries
    return error
