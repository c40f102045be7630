"""Decoding what ESPs send back: JSON bodies and timestamps."""

import datetime


def response_json(response):
    """The decoded JSON body of ``response``, or ``{}`` when empty or not JSON."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def parse_timestamp(value, default=None):
    """An aware UTC datetime from ISO 8601 text or epoch seconds.

    Naive values are taken as UTC; unreadable or empty ones give ``default``.
    """
    if value in (None, ""):
        return default
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)
