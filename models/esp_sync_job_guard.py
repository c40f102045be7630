# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The guard of every job that is not a ledger delivery (consent poll,
backfill step and poll): nothing fails silently.

Ledger deliveries have their own guard (``_esp_run_group``); these jobs get
the same promise: a database conflict (two jobs blacklisting one address,
say) retries the job soon, and any other error, a bug included, opens an
``unexpected`` exception for IT before the job fails.
"""

import traceback
from contextlib import contextmanager

import psycopg2

from odoo.addons.queue_job.exception import FailedJobError, RetryableJobError

from ..providers import EspError
from .esp_sync_delivery_support import (
    NewCursor,
    SameCursor,
    is_conflict,
    logger,
    testing,
)

# Seconds before a job that hit a database conflict runs again.
CONFLICT_RETRY_SECONDS = 2


@contextmanager
def guarded_job(backend, what):
    """Run the body of a job of ``backend``; ``what`` names it for people."""
    try:
        yield
    except (RetryableJobError, FailedJobError):
        raise
    except psycopg2.Error as err:
        if is_conflict(err):
            raise RetryableJobError(
                f"{what}: database conflict ({err.pgcode}), retried",
                seconds=CONFLICT_RETRY_SECONDS,
                ignore_retry=True,
            ) from err
        _record_unexpected(backend, what, err, traceback.format_exc())
        raise
    except Exception as err:
        _record_unexpected(backend, what, err, traceback.format_exc())
        raise


def _record_unexpected(backend, what, error, trace):
    """Open the exception in a transaction of its own: the job's is lost."""
    logger.error("esp_sync: %s failed unexpectedly\n%s", what, trace)
    unexpected = EspError(
        backend.env._(
            "%(what)s failed unexpectedly: %(error)s",
            what=what,
            error=f"{type(error).__name__}: {error}",
        ),
        category="transient",
        code="unexpected",
    )
    cursor = SameCursor if testing() else NewCursor
    with cursor(backend.env) as env:
        env["esp.sync.exception"]._esp_record(
            backend.with_env(env),
            backend.with_env(env),
            unexpected,
            trace=trace,
            category="unexpected",
        )
