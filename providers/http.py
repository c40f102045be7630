"""The transport under the adapters' one request path, and header readers.

:meth:`HttpTransport.send` sets the timeout and turns network failures into
retryable errors; :meth:`providers.base.EspAdapter._send` is the request path
every ESP goes through (auth, counting, rate-limit headers, classification).
"""

import email.utils
import time

import requests

from .errors import ErrorCategory, EspError

DEFAULT_TIMEOUT = 20.0
USER_AGENT = "esp_sync/18.0 (+Odoo)"
# A rate-limit reset above this is a Unix time, below it a number of seconds.
EPOCH_THRESHOLD = 1e9


def parse_retry_after(headers, default=None):
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date)."""
    value = headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # unreadable HTTP date
        return default
    if parsed is None:
        return default
    return max(0.0, parsed.timestamp() - time.time())


def parse_rate_limit(headers):
    """Return ``{limit, remaining, reset}`` from the headers ESPs send.

    Klaviyo: ``RateLimit-Limit/-Remaining/-Reset``; Dotdigital:
    ``X-RateLimit-Limit/-Remaining/-Reset``; Mailchimp sends none (it caps
    connections). Missing values are ``None``; ``reset`` is kept as sent
    (seconds, or a Unix time).
    """
    info = {}
    for key in ("limit", "remaining", "reset"):
        raw = headers.get(f"RateLimit-{key.title()}") or headers.get(
            f"X-RateLimit-{key.title()}"
        )
        try:
            info[key] = float(raw.split(",")[0].split(";")[0]) if raw else None
        except ValueError:
            info[key] = None
    return info


def throttle_wait(headers, default=None):
    """Seconds to wait after a rate limit: ``Retry-After``, else the window's
    reset (seconds or a Unix time), else ``default``."""
    seconds = parse_retry_after(headers)
    if seconds is not None:
        return seconds
    reset = parse_rate_limit(headers)["reset"]
    if reset is None:
        return default
    return max(0.0, reset - time.time()) if reset > EPOCH_THRESHOLD else reset


class HttpTransport:
    """A requests session with a timeout on every call."""

    def __init__(self, timeout=DEFAULT_TIMEOUT, session=None):
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    def send(self, method, url, **kwargs):
        """Send one request and return the response, whatever its status.

        Network errors and timeouts raise a transient :class:`EspError`
        (without the request's headers, which hold credentials).
        """
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise EspError(
                f"No answer from {_host(url)} within {kwargs['timeout']}s",
                category=ErrorCategory.TRANSIENT,
            ) from exc
        except requests.RequestException as exc:
            raise EspError(
                f"Could not reach {_host(url)}: {type(exc).__name__}",
                category=ErrorCategory.TRANSIENT,
            ) from exc


def _host(url):
    return requests.utils.urlparse(url).netloc or url
