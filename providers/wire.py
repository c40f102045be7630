"""Decoding what ESPs send back: JSON bodies and timestamps."""

import datetime
import re


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
    # Python 3.10's fromisoformat knows neither "Z" nor 2-digit fractions.
    text = str(value).replace("Z", "+00:00")
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def dig(doc, *keys):
    """``doc[k1][k2]...``, or ``None`` as soon as a level is not a dict."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc
