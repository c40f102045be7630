"""Shared fixtures of the Odoo-free provider tests: sample plain values."""

import datetime

import pytest

from providers import events

NOW = datetime.datetime(2026, 3, 1, 10, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture
def sample_profile():
    """A B2C customer with address, tags and a custom property."""
    return events.Profile(
        email="ada@example.com",
        external_id="res.partner-7",
        first_name="Ada",
        last_name="Lovelace",
        phone="+44 20 7946 0958",
        organization="Analytical Engines",
        address=events.Address(
            street="1 Main St",
            street2="Flat 2",
            city="London",
            zip="N1 9GU",
            region="Greater London",
            country="United Kingdom",
            country_code="GB",
        ),
        properties={"Loyalty Tier": "gold", "Orders Count": 3},
        tags=("VIP", "Newsletter"),
    )


@pytest.fixture
def sample_order():
    """A two-line order in EUR."""
    lines = (
        events.OrderLine(
            line_id="11",
            product_id="P1",
            sku="SKU-1",
            name="Tea Pot",
            quantity=1.0,
            unit_price=30.0,
            total=30.0,
            product_url="https://shop.example.com/p/1",
            image_url="https://shop.example.com/p/1.png",
            categories=("Kitchen",),
        ),
        events.OrderLine(
            line_id="12",
            product_id="P2",
            sku="SKU-2",
            name="Cup",
            quantity=2.0,
            unit_price=6.0,
            total=12.0,
        ),
    )
    return events.Order(
        order_id="42",
        name="S00042",
        email="ada@example.com",
        external_id="res.partner-7",
        placed_at=NOW,
        currency="EUR",
        total=42.0,
        untaxed=35.0,
        tax=7.0,
        shipping=0.0,
        lines=lines,
    )


@pytest.fixture
def make_order_event(sample_order):
    """Build an OrderEvent of ``kind`` for the sample order."""

    def make(kind=events.EventKind.PLACED, **overrides):
        values = {
            "kind": kind,
            "unique_id": f"odoo-db-sale.order-42-{kind.value}",
            "order": sample_order,
            "occurred_at": NOW,
            "value": sample_order.total,
            "lines": sample_order.lines,
        }
        values.update(overrides)
        return events.OrderEvent(**values)

    return make


@pytest.fixture
def make_consent():
    """Build a Consent for ada@example.com."""

    def make(status=events.ConsentStatus.SUBSCRIBED, **overrides):
        values = {
            "email": "ada@example.com",
            "external_id": "res.partner-7",
            "status": status,
            "consented_at": NOW,
        }
        values.update(overrides)
        return events.Consent(**values)

    return make


@pytest.fixture(scope="module")
def esp_sandbox():
    """The in-process ESP sandbox (loopback only), one per test module."""
    sandbox = pytest.importorskip("sandbox")
    with sandbox.Sandbox(port=0, validate=True, rate_limits=False, seed=0) as running:
        yield running


@pytest.fixture
def sb(esp_sandbox):
    """The module's sandbox, emptied, validating, without faults or job delays."""
    esp_sandbox.reset()
    esp_sandbox.configure(validate=True, rate_limits=False, faults=[], job_seconds=0)
    return esp_sandbox
