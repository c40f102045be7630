"""Dotdigital's timestamps: ISO 8601 UTC text both ways."""

import datetime

from ..wire import parse_timestamp


def iso(value):
    """ISO 8601 UTC text (``Z``) of a datetime; naive values are UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """A datetime from Dotdigital's text; now when absent or unreadable."""
    return parse_timestamp(value, default=datetime.datetime.now(datetime.timezone.utc))
