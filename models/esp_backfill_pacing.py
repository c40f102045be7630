# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pacing of backfill jobs by the rate-limit headers the ESP sends.

A backfill is the one workload that can use up an ESP's rate limit on its
own: each step and poll watches the ``RateLimit-*`` / ``X-RateLimit-*``
headers of its answers, and when a window has no request left it schedules
the next job for the window's reset instead of being answered 429.
"""

import math
import time

from ..providers.http import EPOCH_THRESHOLD, parse_rate_limit


class RateLimitWatch:
    """A transport wrapper that remembers how long the ESP asks to wait.

    ``wait`` is the number of seconds until the latest reset of a window
    whose ``remaining`` reached 0 (0: no window is used up).
    """

    def __init__(self, transport):
        self.transport = transport
        self.wait = 0

    def __getattr__(self, name):
        return getattr(self.transport, name)

    def send(self, method, url, **kwargs):
        response = self.transport.send(method, url, **kwargs)
        info = parse_rate_limit(response.headers)
        if info["remaining"] is not None and info["remaining"] < 1:
            reset = info["reset"] or 1
            if reset > EPOCH_THRESHOLD:
                reset -= time.time()
            self.wait = max(self.wait, math.ceil(max(reset, 1)))
        return response


def watch(adapter):
    """Wrap ``adapter``'s transport (shared by the audience adapters built
    from it); return the watch."""
    if not isinstance(adapter.transport, RateLimitWatch):
        adapter.transport = RateLimitWatch(adapter.transport)
    return adapter.transport
