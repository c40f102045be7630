"""The one retry policy: how long to wait before the next try of a delivery.

Shared by the adapters' bulk polling and the engine. A 429 waits what the
ESP said (its ``Retry-After`` or rate-limit reset) and never counts toward
giving up; 5xx and network errors back off exponentially with jitter, capped
in minutes. Giving up is decided by a time budget (the engine's), not by a
number of attempts.
"""

import random

from .base import ErrorCategory

BASE_SECONDS = 2.0
CAP_SECONDS = 60.0
RATE_LIMIT_DEFAULT_SECONDS = 10.0
RATE_LIMIT_CAP_SECONDS = 3600.0


def retry_delay(error, attempt, rng=random):
    """Seconds before retrying after ``error`` (an ``EspError``).

    ``attempt`` is how many transient failures the delivery has had before
    this one (0 for the first); rate limits ignore it.
    """
    if error.category == ErrorCategory.RATE_LIMIT:
        wait = error.retry_after or RATE_LIMIT_DEFAULT_SECONDS
        return min(max(float(wait), 1.0), RATE_LIMIT_CAP_SECONDS)
    if error.retry_after:
        return min(max(float(error.retry_after), 1.0), CAP_SECONDS)
    exponential = min(BASE_SECONDS * (2 ** min(attempt, 16)), CAP_SECONDS)
    return exponential * rng.uniform(0.75, 1.0)


def counts_toward_giving_up(error):
    """A rate limit is the ESP pacing us, not a failure."""
    return error.category != ErrorCategory.RATE_LIMIT
