"""Rate limits: fixed windows, headers, 429 + Retry-After, scale, on/off."""

import requests

from sandbox.ratelimit import ConcurrencyLimiter, RateLimiter, parse_rate


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_parse_rate():
    assert parse_rate("75/s") == (75, 1)
    assert parse_rate("750/m") == (750, 60)
    assert parse_rate("150/d") == (150, 86400)


def test_fixed_windows_and_reset():
    clock = FakeClock(1000.2)
    limiter = RateLimiter(clock, enabled=True)
    limits = [(2, 1), (3, 60)]
    first = limiter.check("k", limits)
    assert first.allowed and first.remaining == 1 and first.limit == 2
    assert limiter.check("k", limits).allowed
    blocked = limiter.check("k", limits)
    assert not blocked.allowed and blocked.retry_after == 1
    clock.now = 1001.1  # next second: burst window resets
    assert limiter.check("k", limits).allowed
    steady = limiter.check("k", limits)  # steady (3/min) exhausted
    assert not steady.allowed and steady.retry_after > 1
    assert limiter.check("other", limits).allowed  # keys are independent


def test_headers_name_the_last_reset_when_every_window_is_used_up():
    """A client that waits for the announced reset is not answered 429."""
    clock = FakeClock(1000.2)
    limiter = RateLimiter(clock, enabled=True)
    limits = [(1, 1), (2, 60)]
    first = limiter.check("k", limits)
    assert first.remaining == 0 and first.reset == 1  # burst used up
    clock.now = 1001.1
    second = limiter.check("k", limits)  # burst and steady both used up
    assert second.allowed and second.remaining == 0 and second.limit == 2
    assert second.reset == 19  # the minute window (960-1020) ends at 1020
    clock.now += second.reset
    assert limiter.check("k", limits).allowed


def test_scale_and_disabled():
    clock = FakeClock()
    limiter = RateLimiter(clock, enabled=True, scale=0.1)
    assert limiter.effective(75) == 7
    assert limiter.effective(5) == 1
    limiter.enabled = False
    assert all(limiter.check("k", [(1, 1)]).allowed for _ in range(10))


def test_concurrency_limiter():
    limiter = ConcurrencyLimiter()
    assert limiter.acquire("a", 2) and limiter.acquire("a", 2)
    assert not limiter.acquire("a", 2)
    limiter.release("a")
    assert limiter.acquire("a", 2)


def test_klaviyo_429_with_retry_after(sb, klaviyo_client):
    # GET /api/accounts is 1/s burst, 15/m steady in Klaviyo's spec
    sb.configure(rate_limits=True)
    client = klaviyo_client(sb)
    statuses = []
    for _ in range(3):
        answer = client.get("/api/accounts")
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            assert answer.headers["RateLimit-Limit"]
            assert "RateLimit-Remaining" in answer.headers
    assert 429 in statuses
    throttled = client.get("/api/accounts")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    error = throttled.json()["errors"][0]
    assert error["code"] == "throttled" and error["status"] == 429
    # a different account has its own budget
    assert (
        klaviyo_client(sb, "pk_sandbox_other").get("/api/accounts").status_code == 200
    )


def test_rate_limit_scale_lowers_limits(sb, klaviyo_client):
    sb.configure(rate_limits=True, rate_limit_scale=0.02)  # 75/s -> 1/s
    client = klaviyo_client(sb)
    codes = [client.upsert(email=f"p{n}@example.com").status_code for n in range(3)]
    assert codes[0] == 201 and 429 in codes


def test_rate_limits_off_by_default(sb, klaviyo_client):
    client = klaviyo_client(sb)
    answers = [client.get("/api/accounts") for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert "RateLimit-Limit" not in answers[0].headers


def test_throttled_request_is_logged(sb, klaviyo_client):
    sb.configure(rate_limits=True)
    client = klaviyo_client(sb)
    for _ in range(3):
        client.get("/api/accounts")
    faults = [entry["fault"] for entry in sb.requests("klaviyo")]
    assert "rate_limit" in faults
    assert requests.get(f"{sb.url}/_sandbox/health", timeout=5).ok
