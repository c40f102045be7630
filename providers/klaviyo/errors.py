"""Turn Klaviyo's JSON:API ``errors`` documents into classified EspErrors."""

from ..errors import ErrorCategory, EspError, category_for_status


def field_from_source(source):
    """``/data/attributes/location/zip`` -> ``location.zip``."""
    if not isinstance(source, dict):
        return None
    if source.get("parameter"):
        return str(source["parameter"])
    pointer = str(source.get("pointer") or "").strip("/")
    if not pointer or pointer == "data":
        return None
    parts = pointer.split("/")
    if "attributes" in parts:
        parts = parts[parts.index("attributes") + 1 :]
    return ".".join(parts) or None


def error_from_response(response):
    """Classify a non-2xx Klaviyo response; the message joins its details."""
    status = response.status_code
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    details, field, code = [], None, None
    for error in errors[:5] if isinstance(errors, list) else ():
        if not isinstance(error, dict):
            continue
        detail = error.get("detail") or error.get("title")
        if detail and detail not in details:
            details.append(str(detail))
        code = code or error.get("code")
        field = field or field_from_source(error.get("source"))
    message = "; ".join(details) or (
        f"Klaviyo answered {response.reason or 'an error'}".strip()
    )
    category = category_for_status(status)
    if status == 409:  # duplicate / conflict: the data must change
        category = ErrorCategory.DATA
    return EspError(message, category=category, status=status, field=field, code=code)
