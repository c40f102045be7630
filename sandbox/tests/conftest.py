"""Fixtures: an in-process sandbox on a free port."""

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="module")
def module_sandbox():
    """One sandbox per test module (reset before each test by ``sb``)."""
    with Sandbox(port=0, validate=True, rate_limits=False, seed=0) as sandbox:
        yield sandbox


@pytest.fixture
def sb(module_sandbox):
    """A clean sandbox: state, logs, options and faults reset."""
    module_sandbox.reset()
    module_sandbox.clock_offset = 0.0
    module_sandbox.configure(
        validate=True, rate_limits=False, rate_limit_scale=1.0, faults=[], seed=0
    )
    yield module_sandbox
