"""Turn Mailchimp's problem+json error bodies into classified EspErrors."""

import re

from ..errors import ErrorCategory, EspError, category_for_status
from . import const


def parse_problem(response):
    """Return Mailchimp's error body as a dict (empty when not JSON)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def field_errors(problem):
    """``[(field, message)]`` from the problem's ``errors`` array."""
    found = []
    for item in problem.get("errors") or []:
        if isinstance(item, dict):
            found.append((str(item.get("field") or ""), str(item.get("message") or "")))
    return found


def merge_tag_of(field):
    """``merge_fields.SIZE`` -> ``SIZE``; other fields -> ``""``."""
    field = field or ""
    if field.startswith("merge_fields."):
        return field.split(".", 1)[1]
    return field if field.isupper() else ""


def missing_merge_tags(problem, sent_tags):
    """Merge tags Mailchimp says do not exist among those we sent."""
    missing = []
    for field, message in field_errors(problem):
        tag = merge_tag_of(field)
        if tag in sent_tags and re.search(
            const.MISSING_MERGE_PATTERN, message, re.IGNORECASE
        ):
            missing.append(tag)
    return missing


def error_from_response(response):
    """Classify a non-2xx Mailchimp response; the message is plain language.

    The wait before a retry is read from the headers by the request path.
    """
    status = response.status_code
    problem = parse_problem(response)
    title = str(problem.get("title") or response.reason or "").strip()
    detail = str(problem.get("detail") or "").strip()
    errors = field_errors(problem)
    text = f"{title} {detail}".lower()
    category = category_for_status(status)
    code = None
    field = None
    message = f"Mailchimp answered {title or status}" + (
        f": {detail}" if detail else ""
    )

    if status == 429 or (
        status == 403 and re.search(const.THROTTLE_PATTERN, text, re.IGNORECASE)
    ):
        category = ErrorCategory.RATE_LIMIT
        code = const.CODE_THROTTLED
        message = "Mailchimp is throttling requests; retry later" + (
            f" ({detail})" if detail else ""
        )
    elif status in (401, 403):
        category = ErrorCategory.AUTHENTICATION
        message = (
            "Mailchimp refused the API key or its permissions "
            f"({title or status}); check the key and its data centre"
        )
    elif status == 404:
        category = ErrorCategory.CONFIGURATION
        message = (
            "Mailchimp could not find the resource; check the audience (list) id "
            f"and store id ({detail or title})"
        )
    elif status >= 500:
        category = ErrorCategory.TRANSIENT
    elif const.TITLE_COMPLIANCE in text:
        category = ErrorCategory.DATA
        code = const.CODE_COMPLIANCE_STATE
        message = (
            "This person unsubscribed or was removed in Mailchimp (compliance "
            "state); Odoo must not subscribe them again"
        )
    elif const.TITLE_MEMBER_EXISTS in text:
        category = ErrorCategory.DATA
        code = const.CODE_MEMBER_EXISTS
        message = f"The member already exists in the Mailchimp audience: {detail}"
    elif status == 400 and re.search(const.ALREADY_EXISTS_PATTERN, text):
        category = ErrorCategory.DATA
        code = const.CODE_ALREADY_EXISTS
    elif errors:
        field, field_message = errors[0]
        category = ErrorCategory.DATA
        tag = merge_tag_of(field)
        if tag and re.search(const.MISSING_MERGE_PATTERN, field_message, re.IGNORECASE):
            category = ErrorCategory.CONFIGURATION
            code = const.CODE_MERGE_FIELD_MISSING
            message = f"The Mailchimp audience has no merge field {tag}"
        else:
            others = "; ".join(f"{f}: {m}" for f, m in errors[1:])
            message = f"Mailchimp rejected {field or 'the data'}: {field_message}" + (
                f" (also {others})" if others else ""
            )
    return EspError(
        message, category=category, status=status, field=field or None, code=code
    )
