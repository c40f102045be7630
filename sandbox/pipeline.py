"""The request pipeline behind :class:`~sandbox.server.Sandbox`'s HTTP server.

Every provider request goes through the same steps: size limit, request
log, faults, routing, authentication, rate limits, JSON parsing, spec
validation, handler. A handler bug becomes a 500 in the ESP's error shape.
"""

import json
import logging
import socket
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import inspection, specs, ui
from .core import Headers, MethodNotAllowed, Request, Response, RouteNotFound

_logger = logging.getLogger(__name__)

HARD_BODY_LIMIT = 64 * 1024 * 1024
LOGGED_BODY_CHARS = 4000
LOGGED_JSON_LIMIT = 1024 * 1024
REDACTED = {"authorization", "api-key", "x-api-key", "cookie", "proxy-authorization"}


class Server(ThreadingHTTPServer):
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


class Handler(BaseHTTPRequestHandler):
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
