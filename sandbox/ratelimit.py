"""Rate limits as the ESPs enforce them: fixed windows and concurrency caps.

Each request is counted against every window that applies to it (Klaviyo:
a burst window per second and a steady window per minute) keyed per
account and endpoint. A ``scale`` factor multiplies every limit so tests
can hit 429 quickly (``scale=0.01``) or load tests can go faster.
"""

import math
import threading
from dataclasses import dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text):
    """``"75/s"`` -> ``(75, 1)``; ``"750/m"`` -> ``(750, 60)``."""
    count, _sep, unit = str(text).partition("/")
    return int(count), _UNITS[unit.strip()[:1] or "s"]


@dataclass
class Decision:
    """Outcome of one check: allowed or not, and the headers' values."""

    allowed: bool
    limit: int = 0
    remaining: int = 0
    reset: int = 0
    retry_after: int = 0


class RateLimiter:
    """Fixed-window counters keyed by ``key`` (account + endpoint)."""

    def __init__(self, clock, enabled=False, scale=1.0):
        self.clock = clock
        self.enabled = enabled
        self.scale = scale
        self._windows = {}
        self._lock = threading.Lock()

    def reset(self):
        """Forget every window's count."""
        with self._lock:
            self._windows.clear()

    def effective(self, limit):
        """The limit after scaling (never below 1)."""
        return max(1, int(limit * self.scale))

    def check(self, key, limits):
        """Count one request under ``limits`` ``[(limit, seconds)]``."""
        if not self.enabled or not limits:
            return Decision(True)
        now = self.clock()
        with self._lock:
            rows = []
            for limit, seconds in limits:
                start = math.floor(now / seconds) * seconds
                slot = (key, seconds)
                begun, used = self._windows.get(slot, (start, 0))
                if begun != start:
                    begun, used = start, 0
                rows.append((slot, begun, used, self.effective(limit), seconds))
            exceeded = [row for row in rows if row[2] >= row[3]]
            if exceeded:
                retry = max(row[1] + row[4] - now for row in exceeded)
                slot, begun, used, limit, seconds = exceeded[-1]
                return Decision(
                    False, limit, 0, max(1, math.ceil(retry)), max(1, math.ceil(retry))
                )
            for slot, begun, used, _limit, _seconds in rows:
                self._windows[slot] = (begun, used + 1)
            # The window closest to its limit; of windows used up alike, the
            # one that resets last (when the next request can pass).
            slot, begun, used, limit, seconds = min(
                rows,
                key=lambda row: ((row[3] - row[2] - 1) / row[3], -(row[1] + row[4])),
            )
            return Decision(
                True,
                limit,
                limit - used - 1,
                max(1, math.ceil(begun + seconds - now)),
            )


class ConcurrencyLimiter:
    """At most N requests in flight per key (Mailchimp allows 10)."""

    def __init__(self):
        self._inflight = {}
        self._lock = threading.Lock()

    def acquire(self, key, limit):
        """Take a slot; ``False`` when ``limit`` are already in flight."""
        with self._lock:
            count = self._inflight.get(key, 0)
            if count >= limit:
                return False
            self._inflight[key] = count + 1
            return True

    def release(self, key):
        """Free the slot taken by :meth:`acquire`."""
        with self._lock:
            count = self._inflight.get(key, 0)
            if count <= 1:
                self._inflight.pop(key, None)
            else:
                self._inflight[key] = count - 1
