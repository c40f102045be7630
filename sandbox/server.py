"""The sandbox HTTP server: one stdlib server mounting every emulated ESP.

``/klaviyo/...``, ``/mailchimp/...``, ``/dotdigital/...`` go to the provider
apps, ``/_sandbox/...`` to the inspection API and ``/`` to the HTML page.
Every provider request goes through the same pipeline: size limit, request
log, faults, routing, authentication, rate limits, JSON parsing, spec
validation, handler. A handler bug becomes a 500 in the ESP's error shape.
"""

import importlib
import json
import logging
import queue
import random
import socket
import threading
import time
import traceback
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import inspection, specs, ui
from .core import (
    Headers,
    MethodNotAllowed,
    ProviderApp,
    Request,
    Response,
    RouteNotFound,
)
from .faults import FaultInjector
from .ratelimit import ConcurrencyLimiter, RateLimiter

_logger = logging.getLogger(__name__)

PROVIDER_MODULES = ("klaviyo", "mailchimp", "dotdigital")
HARD_BODY_LIMIT = 64 * 1024 * 1024
LOG_SIZE = 20000
LOGGED_BODY_CHARS = 4000
LOGGED_JSON_LIMIT = 1024 * 1024
REDACTED = {"authorization", "api-key", "x-api-key", "cookie", "proxy-authorization"}
DEFAULTS = {
    "validate": True,
    "rate_limits": False,
    "rate_limit_scale": 1.0,
    "job_seconds": 0.5,
    "log_bodies": True,
}


def load_apps(sandbox, classes=None):
    """Instantiate each provider app that imports; skip (and warn) the rest.

    ``classes`` (ProviderApp subclasses) replaces the default modules.
    """
    apps = {}
    for name in classes or PROVIDER_MODULES:
        if isinstance(name, type):
            app_class, name = name, name.name
        else:
            try:
                module = importlib.import_module(f"{__package__}.{name}")
                app_class = _app_class(module)
            except ModuleNotFoundError as exc:
                _logger.warning("Sandbox provider %s unavailable: %s", name, exc)
                continue
            except Exception:  # a provider being written must not stop the rest
                _logger.warning("Sandbox provider %s broken", name, exc_info=True)
                continue
        try:
            app = app_class(sandbox)
        except Exception:
            _logger.exception("Sandbox provider %s failed to start", name)
            continue
        apps[app.name or name] = app
    return apps


def _app_class(module):
    """``module.App``, else the module's own ProviderApp subclass."""
    if hasattr(module, "App"):
        return module.App
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ProviderApp)
            and value is not ProviderApp
            and value.__module__ == module.__name__
        ):
            return value
    raise ImportError(f"no ProviderApp subclass in {module.__name__}")


class Sandbox:
    """The local emulator of Klaviyo, Mailchimp and Dotdigital.

    ``Sandbox(port=0).start()`` serves from a background thread; ``url`` is
    the base (``http://127.0.0.1:<port>``); a provider's base URL is
    ``sb.url + "/klaviyo"``. Also a context manager.
    """

    def __init__(
        self,
        port=0,
        host="127.0.0.1",
        validate=True,
        rate_limits=False,
        rate_limit_scale=1.0,
        seed=0,
        providers=None,
        **options,
    ):
        self.host = host
        self.port = port
        self.config = dict(DEFAULTS)
        self.config.update(
            validate=validate,
            rate_limits=rate_limits,
            rate_limit_scale=rate_limit_scale,
            seed=seed,
        )
        faults = options.pop("faults", None)
        self.config.update(options)
        self.clock_offset = 0.0
        self.rng = random.Random(seed)
        self.ratelimiter = RateLimiter(self.now, rate_limits, rate_limit_scale)
        self.concurrency = ConcurrencyLimiter()
        self.faults = FaultInjector(self.now, seed)
        self._log = deque(maxlen=LOG_SIZE)
        self._log_lock = threading.Lock()
        self._next_id = 1
        self._webhooks = deque(maxlen=LOG_SIZE)
        self._webhook_queue = queue.Queue()
        self._webhook_thread = None
        self._server = None
        self._thread = None
        self.apps = load_apps(self, providers)
        if faults:
            self.faults.configure(faults)

    # -- lifecycle -------------------------------------------------------------
    def start(self):
        """Bind and serve in a daemon thread; returns ``self``."""
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._webhook_thread = threading.Thread(
            target=self._deliver_webhooks, name="sandbox-webhooks", daemon=True
        )
        self._webhook_thread.start()
        return self

    def serve_forever(self):
        """Serve until interrupted (``python -m sandbox``)."""
        if self._server is None:
            self.start()
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self):
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._webhook_thread is not None:
            self._webhook_queue.put(None)
            self._webhook_thread.join(5)
            self._webhook_thread = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        """``http://<host>:<port>`` once started."""
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider):
        """Base URL a backend uses for ``provider``."""
        return f"{self.url}/{provider}"

    # -- clock and config --------------------------------------------------------
    def now(self):
        """Seconds since the epoch, shifted by :meth:`advance`."""
        return time.time() + self.clock_offset

    def advance(self, seconds):
        """Move the sandbox clock forward (jobs complete, windows roll)."""
        self.clock_offset += float(seconds)
        return self.now()

    def configure(self, **options):
        """Change options and return them all.

        ``validate``, ``rate_limits``, ``rate_limit_scale``, ``seed`` (reseeds
        ids and faults), ``job_seconds`` (Klaviyo job completion delay),
        ``faults`` (a list of rules, see :mod:`sandbox.faults`; ``[]`` clears).
        """
        faults = options.pop("faults", None)
        if "seed" in options:
            self.rng.seed(options["seed"])
        self.config.update(options)
        self.ratelimiter.enabled = bool(self.config["rate_limits"])
        self.ratelimiter.scale = float(self.config["rate_limit_scale"])
        if "rate_limits" in options or "rate_limit_scale" in options:
            self.ratelimiter.reset()
        if faults is not None or "seed" in options:
            rules = faults if faults is not None else self.faults.describe()
            self.faults.configure(rules, seed=options.get("seed"))
        return self.describe_config()

    def describe_config(self):
        """The current options, JSON-able."""
        return {**self.config, "faults": self.faults.describe()}

    # -- inspection ----------------------------------------------------------------
    def requests(self, provider=None, since=0):
        """Logged requests (oldest first), optionally of one provider."""
        with self._log_lock:
            return [
                dict(entry)
                for entry in self._log
                if entry["id"] > since
                and (provider is None or entry["provider"] == provider)
            ]

    def clear_requests(self):
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    def state(self, provider, account=None):
        """The JSON-able state of one provider (one account or all)."""
        return self._app(provider).dump(account)

    def reset(self, provider=None):
        """Forget state (of one provider or all), logs and rate counters."""
        for name, app in self.apps.items():
            if provider is None or name == provider:
                app.reset()
        if provider is None:
            self.clear_requests()
            self._webhooks.clear()
            self.clock_offset = 0.0
        self.ratelimiter.reset()

    def action(self, provider, name, **params):
        """Run an ESP-side action (e.g. ``unsubscribe``) and return its result."""
        actions = self._app(provider).actions()
        if name not in actions:
            raise KeyError(f"{provider} has no action {name!r}; has {sorted(actions)}")
        return actions[name](**params)

    def webhooks(self):
        """Outbound webhook deliveries attempted so far."""
        return list(self._webhooks)

    def _app(self, provider):
        if provider not in self.apps:
            raise KeyError(f"unknown provider {provider!r}; have {sorted(self.apps)}")
        return self.apps[provider]

    # -- webhooks --------------------------------------------------------------------
    def send_webhook(self, url, body, headers=None, provider=""):
        """Queue an outbound POST (delivered by a background thread)."""
        entry = {
            "provider": provider,
            "url": url,
            "headers": dict(headers or {}),
            "body": body.decode() if isinstance(body, bytes) else body,
            "queued_at": self.now(),
            "status": None,
            "error": None,
        }
        self._webhooks.append(entry)
        self._webhook_queue.put((entry, body, headers or {}))
        return entry

    def wait_webhooks(self, timeout=5.0):
        """Block until every queued webhook was attempted (tests)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(w["status"] is not None or w["error"] for w in self._webhooks):
                return True
            time.sleep(0.02)
        return False

    def _deliver_webhooks(self):
        while True:
            item = self._webhook_queue.get()
            if item is None:
                return
            entry, body, headers = item
            data = body if isinstance(body, bytes) else str(body).encode()
            request = urllib.request.Request(
                entry["url"], data=data, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    entry["status"] = answer.status
            except urllib.error.HTTPError as exc:
                entry["status"] = exc.code
            except Exception as exc:  # unreachable receivers are recorded, not raised
                entry["error"] = f"{type(exc).__name__}: {exc}"

    # -- request log ---------------------------------------------------------------
    def _record(self, entry):
        with self._log_lock:
            entry["id"] = self._next_id
            self._next_id += 1
            self._log.append(entry)
        return entry


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Drop(Exception):
    """Close the connection without answering."""


class _BodyError(Exception):
    """The body cannot be read or is too large; ``response`` says so."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def _plain_error(app, status, detail):
    if app is None:
        return Response(status, {"error": detail})
    return app.error(status, detail)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esp-sandbox/1.0"

    def setup(self):
        """Disable Nagle so keep-alive answers are not held back."""
        result = super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return result

    def log_message(self, format, *args):
        _logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- pipeline --------------------------------------------------------------
    def _dispatch(self):
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        segments = split.path.split("/", 2)
        mount = segments[1] if len(segments) > 1 else ""
        rest = "/" + segments[2] if len(segments) > 2 else "/"
        app = sandbox.apps.get(mount)
        try:
            body = self._read_body(app)
        except _BodyError as exc:
            self.close_connection = True
            self._send(exc.response, app)
            return
        request = Request(
            method=self.command,
            path=rest,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=Headers(self.headers.items()),
            body=body,
            provider=mount,
        )
        try:
            if mount == "" or mount == "favicon.ico":
                response = ui.page(sandbox, request)
            elif mount == "_sandbox":
                response = inspection.handle(sandbox, request)
            elif app is None:
                response = Response(404, {"error": f"no provider mounted at /{mount}"})
            else:
                response = self._provider(sandbox, app, request)
        except _Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except Exception:  # the server answers, whatever went wrong
            _logger.error("Sandbox failed on %s\n%s", self.path, traceback.format_exc())
            response = Response(500, {"error": "sandbox internal error"})
        self._send(response, app)

    def _read_body(self, app):
        """The request body; raise :class:`_BodyError` when it is refused."""
        limit = app.max_body if app else HARD_BODY_LIMIT
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(app, limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BodyError(_plain_error(app, 400, "Invalid Content-Length")) from None
        if length > limit:
            self._drain(length)
            raise _BodyError(self._too_large(app, length, limit))
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self, app, limit):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(65537).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _BodyError(_plain_error(app, 400, "Bad chunk size")) from None
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyError(self._too_large(app, total, limit))
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _provider(self, sandbox, app, request):
        started = time.perf_counter()
        entry = {
            "time": sandbox.now(),
            "provider": app.name,
            "account": None,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": _redact(request.headers),
            "body": _loggable(request.body, sandbox.config.get("log_bodies")),
            "status": None,
            "fault": None,
        }
        response = None
        try:
            response = self._pipeline(sandbox, app, request, entry)
            return response
        finally:
            entry["account"] = request.account
            entry["template"] = request.template
            if response is not None:
                entry["status"] = response.status
                entry["response"] = _loggable_body(response.body)
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
            sandbox._record(entry)

    def _pipeline(self, sandbox, app, request, entry):
        try:
            template, handler, params = app.router.match(request.method, request.path)
        except RouteNotFound:
            return app.error(404, f"Path {request.path} not found", code="not_found")
        except MethodNotAllowed as exc:
            response = app.error(
                405, f"Method {request.method} not allowed", code="method_not_allowed"
            )
            response.headers["Allow"] = ", ".join(sorted(exc.allowed))
            return response
        request.template, request.path_params = template, params
        fault = sandbox.faults.decide(app.name, request.method, template)
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.status:
            entry["fault"] = fault.reason
            response = app.error(
                fault.status, "Injected fault", code="sandbox_fault", title="Fault"
            )
            if fault.retry_after:
                response.headers["Retry-After"] = str(fault.retry_after)
            return response
        account = app.authenticate(request)
        if isinstance(account, Response):
            return account
        request.account = account
        return self._limited(sandbox, app, request, handler, fault, entry)

    def _limited(self, sandbox, app, request, handler, fault, entry):
        headers = {}
        slot = None
        if sandbox.ratelimiter.enabled:
            cap = getattr(app, "concurrency_limit", None)
            if cap:
                slot = (app.name, request.account)
                if not sandbox.concurrency.acquire(slot, cap):
                    entry["fault"] = "concurrency"
                    response = app.error(
                        429, "Too many concurrent requests", code="throttled"
                    )
                    response.headers["Retry-After"] = "1"
                    return response
            limits = app.rate_limits(request)
            key = (app.name, request.account, request.method, request.template)
            decision = sandbox.ratelimiter.check(key, limits)
            if limits:
                headers = app.rate_limit_headers(
                    decision.limit, decision.remaining, decision.reset
                )
            if not decision.allowed:
                if slot:
                    sandbox.concurrency.release(slot)
                entry["fault"] = "rate_limit"
                response = app.error(
                    429,
                    f"Request was throttled. Expected available in "
                    f"{decision.retry_after} seconds.",
                    code="throttled",
                )
                response.headers.update(headers)
                response.headers["Retry-After"] = str(decision.retry_after)
                return response
        try:
            response = self._handle(sandbox, app, request, handler)
        finally:
            if slot:
                sandbox.concurrency.release(slot)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if fault.drop_after_apply:
            entry["fault"] = fault.reason
            entry["status"] = response.status
            raise _Drop()
        return response

    def _handle(self, sandbox, app, request, handler):
        if request.body and request.content_type and "json" not in request.content_type:
            # Every ESP here speaks JSON only: a form or text body is refused
            # with 415, in the ESP's own error shape.
            return app.error(
                415,
                f"Unsupported media type {request.content_type!r}: send JSON.",
                code="unsupported_media_type",
                title="Unsupported Media Type",
            )
        if request.body and (
            "json" in request.content_type or not request.content_type
        ):
            try:
                request.json = json.loads(request.body)
            except ValueError as exc:
                return app.error(
                    400, f"Malformed JSON body: {exc}", code="invalid", title="Invalid"
                )
        if sandbox.config.get("validate"):
            key = app.spec_key(request)
            template = key and specs.operation_for(key, request.method, request.path)
            if template:
                violations = specs.validate_request(
                    key,
                    request.method,
                    template,
                    body=request.json,
                    query=request.query,
                    content_type=request.content_type,
                )
                if violations:
                    return app.validation_error(violations)
        try:
            result = handler(request)
        except Exception as exc:
            hook = getattr(app, "handler_error", None)
            response = hook(request, exc) if hook else None
            if response is not None:
                return response
            _logger.error(
                "Sandbox %s handler failed\n%s", app.name, traceback.format_exc()
            )
            return app.error(500, "Internal server error", code="error", title="Error")
        return _as_response(result)

    def _too_large(self, app, length, limit):
        detail = f"Request body of {length} bytes exceeds the {limit} byte limit"
        if app is None:
            return Response(413, {"error": detail})
        return app.error(413, detail, code="payload_too_large", title="Too Large")

    def _drain(self, length):
        remaining = min(length, HARD_BODY_LIMIT)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, response, app):
        default = app.content_type if app else "application/json"
        try:
            data, content_type = response.encode(default)
            self.send_response(response.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, str(value))
            if self.close_connection:
                self.send_header("Connection", "close")
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(data)
            self.wfile.write(b"".join(self._headers_buffer))
            self._headers_buffer = []
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _as_response(result):
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        return Response(*result)
    return Response(200, result)


def _redact(headers):
    return {
        key: ("***" if key.lower() in REDACTED else value)
        for key, value in headers.items()
    }


def _loggable(body, enabled=True):
    if not body or not enabled:
        return None
    if len(body) > LOGGED_JSON_LIMIT:
        text = body[:LOGGED_BODY_CHARS].decode("utf-8", "replace")
        return {"truncated_bytes": len(body), "start": text}
    try:
        return json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace")
        return text[:LOGGED_BODY_CHARS]


def _loggable_body(body):
    if isinstance(body, bytes):
        return body[:LOGGED_BODY_CHARS].decode("utf-8", "replace")
    if isinstance(body, str):
        return body[:LOGGED_BODY_CHARS]
    return body
