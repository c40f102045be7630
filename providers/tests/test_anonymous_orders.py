"""An erased customer's order sent without personal data (Klaviyo only)."""

import dataclasses
import json

import pytest

from providers.base import BackendSettings, EspError
from providers.klaviyo import KlaviyoAdapter

sandbox = pytest.importorskip("sandbox")
KEY = "pk_sandbox_anonymous_orders"


@pytest.fixture(scope="module")
def running():
    with sandbox.Sandbox(port=0, validate=True, rate_limits=False) as sb:
        yield sb


@pytest.fixture
def sb(running):
    running.reset()
    return running


def _adapter(sb):
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo", base_url=sb.base_url("klaviyo"), api_key=KEY, timeout=5
        )
    )


def _anonymous(order):
    return dataclasses.replace(
        order,
        email="",
        external_id="",
        billing_address=None,
        shipping_address=None,
        anonymous_id="odoo-anon-1f2e3d",
    )


def test_anonymous_order_names_only_its_anonymous_id(
    sb, sample_order, make_order_event
):
    event = make_order_event(order=_anonymous(sample_order))
    result = _adapter(sb).send_order_event(event)
    assert result.requests == 3  # Placed Order + two Ordered Product
    posts = [r for r in sb.requests("klaviyo") if r["path"] == "/api/events"]
    assert len(posts) == 3
    for post in posts:
        profile = post["body"]["data"]["attributes"]["profile"]["data"]
        assert profile == {
            "type": "profile",
            "attributes": {"anonymous_id": "odoo-anon-1f2e3d"},
        }
        assert "ada@example.com" not in json.dumps(post["body"])
    # Klaviyo files the three events under one anonymous profile, no email.
    profiles = list(sb.state("klaviyo")[KEY]["profiles"].values())
    assert len(profiles) == 1
    assert profiles[0]["email"] is None
    assert profiles[0]["anonymous_id"] == "odoo-anon-1f2e3d"
    assert len(sb.state("klaviyo")[KEY]["events"]) == 3


def test_an_order_without_email_or_anonymous_id_is_still_a_data_error(
    sb, sample_order, make_order_event
):
    event = make_order_event(order=dataclasses.replace(sample_order, email=""))
    with pytest.raises(EspError):
        _adapter(sb).send_order_event(event)
