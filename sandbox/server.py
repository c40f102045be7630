"""The sandbox HTTP server: one stdlib server mounting every emulated ESP.

``/klaviyo/...``, ``/mailchimp/...``, ``/dotdigital/...`` go to the provider
apps, ``/_sandbox/...`` to the inspection API and ``/`` to the HTML page.
Every provider request goes through the same pipeline (``pipeline.py``).
"""

import importlib
import logging
import queue
import random
import threading
import time
import urllib.request
from collections import deque

from .core import ProviderApp
from .faults import FaultInjector
from .pipeline import Handler, Server
from .ratelimit import ConcurrencyLimiter, RateLimiter

_logger = logging.getLogger(__name__)

PROVIDER_MODULES = ("klaviyo", "mailchimp", "dotdigital")
LOG_SIZE = 20000
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
        self._server = Server((self.host, self.port), Handler)
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
