"""Small helpers shared by the Mailchimp modules."""

import datetime
import hashlib

from ..wire import parse_timestamp


def subscriber_hash(email):
    """Mailchimp's member id: MD5 of the lower-cased email."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def iso(value):
    """ISO 8601 UTC text of a datetime (naive values are taken as UTC)."""
    if not value:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def money(value):
    """An amount rounded to cents."""
    return round(float(value or 0.0), 2)


def parse_time(value):
    """Mailchimp times: ISO 8601 (API) or ``YYYY-MM-DD HH:MM:SS`` UTC (hooks)."""
    return parse_timestamp(value, default=datetime.datetime.now(datetime.timezone.utc))
