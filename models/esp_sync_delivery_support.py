# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the delivery engine needs besides its model: cursors, conflicts, ids.

Plain helpers, no ORM model: see ``esp_sync_delivery.py`` for the engine.
"""

import logging
import time
from datetime import timedelta

import psycopg2
import psycopg2.errors
from psycopg2 import errorcodes

from odoo import SUPERUSER_ID, api, fields
from odoo.modules import module as odoo_module

# One logger for the whole engine, whichever file logs.
logger = logging.getLogger("odoo.addons.esp_sync.models.esp_sync_delivery")

# Database conflicts a group retries soon, without counting an attempt.
CONFLICT_CODES = {
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.LOCK_NOT_AVAILABLE,
    errorcodes.UNIQUE_VIOLATION,
}
CONFLICT_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.UniqueViolation,
)


def is_conflict(error):
    """A concurrency error the database asks us to retry."""
    return isinstance(error, CONFLICT_ERRORS) or (
        getattr(error, "pgcode", None) in CONFLICT_CODES
    )


# Rows due within this margin go now: job etas are stored to the second.
DUE_MARGIN = timedelta(seconds=1)


def due_by():
    return fields.Datetime.now() + DUE_MARGIN


def testing():
    """Inside Odoo's test runner every job shares the test's transaction."""
    return bool(getattr(odoo_module, "current_test", False))


def dispatch_identity(backend_id, channel, later=False):
    return f"esp_sync:dispatch:{backend_id}:{channel}" + (":later" if later else "")


def wake_after_commit(registry, pairs):
    """Postcommit: make sure a dispatcher runs for each (backend, channel)."""
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["esp.sync.delivery"]._esp_enqueue_dispatchers(pairs)
    except Exception:  # the user's work is committed; the watchdog catches up
        logger.exception("esp_sync: wake-up failed; the watchdog will catch up")


class GroupOutcome:
    """What delivering one group tells the dispatcher."""

    __slots__ = ("delivered", "busy", "pause")

    def __init__(self, delivered=0, busy=False, pause=0.0):
        self.delivered = delivered
        self.busy = busy
        self.pause = pause


class SameCursor:
    """Context manager: the caller's environment inside a savepoint."""

    def __init__(self, env):
        self.env = env
        self._savepoint = None

    def __enter__(self):
        self._savepoint = self.env.cr.savepoint()
        self._savepoint.__enter__()
        return self.env(su=True)

    def __exit__(self, exc_type, exc, tb):
        return self._savepoint.__exit__(exc_type, exc, tb)


class NewCursor:
    """Context manager: a new transaction, committed on success."""

    def __init__(self, env):
        self.env = env
        self._cr = None

    def __enter__(self):
        self._cr = self.env.registry.cursor()
        self._cr.__enter__()
        return api.Environment(self._cr, SUPERUSER_ID, self.env.context)

    def __exit__(self, exc_type, exc, tb):
        return self._cr.__exit__(exc_type, exc, tb)


def remember_endpoint(backend, adapter):
    """Keep the API endpoint the adapter discovered (Dotdigital's regional
    ``ApiEndpoint``) so later jobs skip the account-info lookup."""
    endpoint = getattr(adapter, "api_endpoint", "")
    if endpoint and endpoint != backend.sudo().dotdigital_api_endpoint:
        backend.sudo().dotdigital_api_endpoint = endpoint


def rate_limit_pause(result):
    """Seconds until the ESP's rate-limit window reopens, if none is left."""
    info = (result.detail or {}).get("rate_limit") if result else None
    if not info or info.get("remaining") is None or info["remaining"] > 0:
        return 0
    reset = info.get("reset") or 1.0
    if reset > 1e9:
        reset -= time.time()
    return min(max(float(reset), 1.0), 3600.0)
