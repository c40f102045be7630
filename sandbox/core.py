"""Building blocks shared by the emulated ESPs: request, response, router, app.

Each ESP is one :class:`ProviderApp` mounted by the server under its name
(``/klaviyo/...``). The server parses the HTTP request into a
:class:`Request` whose ``path`` is relative to that mount, routes it through
the app's :class:`Router`, and encodes the :class:`Response` the handler
returns.
"""

import datetime
import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote


class Headers(dict):
    """Case-insensitive header mapping (keys stored lower-case)."""

    def __init__(self, items=()):
        super().__init__()
        for key, value in dict(items).items():
            self[key] = value

    def __setitem__(self, key, value):
        return super().__setitem__(key.lower(), value)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        """Value of header ``key`` (any case), or ``default``."""
        return super().get(key.lower(), default)


@dataclass
class Request:
    """One parsed request, as a handler sees it."""

    method: str
    path: str
    query: dict = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    json: object = None
    path_params: dict = field(default_factory=dict)
    provider: str = ""
    template: str = ""
    account: str = None

    def arg(self, name, default=None):
        """Last value of query parameter ``name``."""
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def content_type(self):
        """The media type of the body, lower-case, without parameters."""
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    """What a handler returns; ``body`` dict/list is sent as JSON."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    content_type: str = None

    def encode(self, default_type="application/json"):
        """Return ``(bytes, content_type)`` for the wire."""
        if self.body is None:
            return b"", self.content_type or default_type
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        data = json.dumps(self.body, default=str).encode()
        return data, self.content_type or default_type


class RouteNotFound(Exception):
    """No route for the path."""


class MethodNotAllowed(Exception):
    """The path exists but not for this method."""

    def __init__(self, allowed):
        super().__init__(", ".join(sorted(allowed)))
        self.allowed = allowed


class Router:
    """Method + path template (``/api/profiles/{id}``) to handler.

    Literal templates win over templated ones, then fewer parameters. The
    path is matched as sent and each parameter percent-decoded afterwards, as
    the real APIs do (``user%2Btag@example.com`` is ``user+tag@example.com``;
    an encoded ``/`` stays inside its segment).
    """

    def __init__(self, routes=()):
        self._routes = []
        for method, template, handler in routes:
            self.add(method, template, handler)

    def add(self, method, template, handler):
        """Register ``handler(request)`` for ``method template``."""
        names = re.findall(r"{([^}/]+)}", template)
        pattern = re.sub(r"\\{[^}/]+\\}", "([^/]+)", re.escape(template))
        literal = len(re.sub(r"{[^}/]+}", "", template))
        regex = re.compile(pattern + "/?$")
        row = (len(names), -literal, method.upper(), template, regex, names, handler)
        self._routes.append(row)
        self._routes.sort(key=lambda item: item[:2])

    def match(self, method, path):
        """Return ``(template, handler, params)``; raise when nothing fits."""
        allowed = set()
        for _n, _lit, route_method, template, regex, names, handler in self._routes:
            found = regex.match(path)
            if not found:
                continue
            if route_method != method.upper():
                allowed.add(route_method)
                continue
            values = [unquote(value) for value in found.groups()]
            return template, handler, dict(zip(names, values, strict=True))
        if allowed:
            raise MethodNotAllowed(allowed)
        raise RouteNotFound(path)

    def templates(self):
        """``[(method, template)]`` in matching order."""
        return [(row[2], row[3]) for row in self._routes]


class ProviderApp:
    """Base class of one emulated ESP.

    Subclasses set ``name`` (mount point), ``spec`` (a :mod:`sandbox.specs`
    key, or a tuple of keys tried in order) and override :meth:`routes`,
    :meth:`authenticate`, :meth:`error` and the inspection hooks. State is
    per account; guard it with ``self.lock``.
    """

    name = ""
    spec = None
    content_type = "application/json"
    max_body = 10 * 1024 * 1024

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.lock = threading.RLock()
        self.router = Router(self.routes())
        self.reset()

    # -- overridables ----------------------------------------------------------
    def reset(self):
        """Forget all state."""
        self.accounts = {}

    def routes(self):
        """``[(method, template, handler)]``; handler(request) -> Response."""
        return []

    def authenticate(self, request):
        """Return the account key, or an error :class:`Response`."""
        return "default"

    def error(self, status, detail, field=None, code=None, title=None):
        """An error response in this ESP's shape."""
        body = {"status": status, "detail": detail, "title": title or ""}
        if field:
            body["field"] = field
        if code:
            body["code"] = code
        return Response(status, body)

    def validation_error(self, violations):
        """Response for spec violations (one error naming the first field)."""
        first = violations[0]
        detail = "; ".join(str(v) for v in violations)
        return self.error(400, detail, field=first.field or None, code="invalid")

    def handler_error(self, request, exc):
        """Response for a handler exception, or ``None`` for a logged 500."""
        return None

    def spec_key(self, request):
        """The spec key that describes ``request`` (``None``: not validated)."""
        if isinstance(self.spec, tuple | list):
            from . import specs

            for key in self.spec:
                if specs.operation_for(key, request.method, request.path):
                    return key
            return None
        return self.spec

    def rate_limits(self, request):
        """``[(limit, window_seconds), ...]`` for this request, or ``None``."""
        return None

    def rate_limit_headers(self, limit, remaining, reset):
        """Headers announcing the rate-limit state (Klaviyo's names)."""
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
        }

    def dump(self, account=None):
        """JSON-able state, of one account or all."""
        with self.lock:
            if account is not None:
                return jsonable(self.accounts.get(account, {}))
            return jsonable(self.accounts)

    def ui_rows(self, account=None):
        """``[{account, email, consent, events: [...]}]`` for the HTML page."""
        return []

    def actions(self):
        """ESP-side changes: ``{name: callable(**params) -> dict}``."""
        return {}

    # -- helpers ---------------------------------------------------------------
    def account_state(self, key):
        """State dict of account ``key``, created by :meth:`new_account`."""
        with self.lock:
            if key not in self.accounts:
                self.accounts[key] = self.new_account(key)
            return self.accounts[key]

    def new_account(self, key):
        """Fresh state for an account."""
        return {}

    def now(self):
        """The sandbox clock (seconds since the epoch, shiftable in tests)."""
        return self.sandbox.now()


def parse_iso(value):
    """An aware datetime from ISO 8601 text; naive values are UTC.

    Accepts ``Z`` and fractions of any length, which ``fromisoformat`` of
    Python 3.10 refuses. Raises ``ValueError`` on anything else.
    """
    text = re.sub(r"[Zz]$", "+00:00", str(value).strip())
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def jsonable(value):
    """``value`` as plain JSON types (sets and tuples become sorted lists)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value):
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return str(value)
