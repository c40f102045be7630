"""Dotdigital adapter against the in-process sandbox (end to end)."""

import dataclasses
import datetime
import time

import pytest

from providers import events
from providers.base import BackendSettings, EspError
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter

sandbox = pytest.importorskip("sandbox")
K = events.EventKind
USER = "apiuser-sandbox-e2e@apiconnector.com"


@pytest.fixture(scope="module")
def sb():
    with sandbox.Sandbox(port=0, validate=True, rate_limits=False) as running:
        yield running


@pytest.fixture
def dd(sb):
    sb.reset()
    dd_adapter._fields_cache.clear()
    settings = BackendSettings(
        provider="dotdigital",
        base_url=sb.url + "/dotdigital",
        api_user=USER,
        api_secret="sandbox-password",
        dotdigital_address_book_id="1",
    )
    return DotdigitalAdapter(settings)


def contact(sb, email):
    state = sb.state("dotdigital", account=USER)
    for item in state["contacts"].values():
        if item["identifiers"]["email"] == email:
            return item
    return None


def test_connection_resolves_endpoint(sb, dd):
    assert "Dotdigital account" in dd.test_connection()
    assert dd.api_endpoint.startswith(sb.url)


def test_upsert_without_opt_in_stays_out_of_the_marketing_list(sb, dd, sample_profile):
    """The neutral state: Dotdigital's default status, no address book."""
    result = dd.upsert_profile(sample_profile)
    assert result.external_id
    found = contact(sb, "ada@example.com")
    assert not found["lists"]
    assert dd.read_profiles(["ada@example.com"])["ada@example.com"].consent == "never"
    assert found["dataFields"]["LOYALTY_TIER"] == "gold"
    assert found["dataFields"]["FIRSTNAME"] == "Ada"


def test_consent_subscribe_then_unsubscribe(sb, dd, sample_profile, make_consent):
    dd.upsert_profile(sample_profile)
    dd.update_consent(make_consent(events.ConsentStatus.SUBSCRIBED))
    found = contact(sb, "ada@example.com")
    assert found["channelProperties"]["email"]["status"] == "subscribed"
    dd.update_consent(make_consent(events.ConsentStatus.UNSUBSCRIBED))
    found = contact(sb, "ada@example.com")
    assert found["channelProperties"]["email"]["status"] == "unsubscribed"
    # A later profile update (no consent) leaves the status alone.
    dd.upsert_profile(dataclasses.replace(sample_profile, first_name="Augusta"))
    found = contact(sb, "ada@example.com")
    assert found["channelProperties"]["email"]["status"] == "unsubscribed"
    assert found["dataFields"]["FIRSTNAME"] == "Augusta"


def status_of(sb, email):
    return contact(sb, email)["channelProperties"]["email"]["status"]


def test_unsubscribed_in_dotdigital_survives_profile_upserts(
    sb, dd, sample_profile, make_consent
):
    """GDPR: an Odoo name edit must not resubscribe a Dotdigital unsubscribe."""
    opted_in = dataclasses.replace(sample_profile, consent=make_consent())
    dd.upsert_profile(opted_in)  # new contact with an Odoo opt-in
    assert status_of(sb, "ada@example.com") == "subscribed"
    sb.action("dotdigital", "unsubscribe", email="ada@example.com")
    dd.upsert_profile(dataclasses.replace(opted_in, first_name="Augusta"))
    assert status_of(sb, "ada@example.com") == "unsubscribed"
    assert contact(sb, "ada@example.com")["dataFields"]["FIRSTNAME"] == "Augusta"
    # Only an explicit consent event (opt-in re-given in Odoo) resubscribes.
    dd.update_consent(make_consent())
    assert status_of(sb, "ada@example.com") == "subscribed"


def _finish(sb, dd, job):
    deadline = time.time() + 10
    while not job.done and time.time() < deadline:
        sb.advance(30)
        job = dd.get_bulk_job(job)
    return job


def test_backfill_never_resubscribes_existing_contacts(
    sb, dd, sample_profile, make_consent
):
    opted_in = dataclasses.replace(sample_profile, consent=make_consent())
    dd.upsert_profile(opted_in)
    sb.action("dotdigital", "unsubscribe", email="ada@example.com")
    new = dataclasses.replace(opted_in, email="bob@example.com")
    job = _finish(sb, dd, dd.bulk_import_profiles([opted_in, new]))
    assert job.status == "complete" and job.failed == 0, job.errors
    assert status_of(sb, "ada@example.com") == "unsubscribed"
    assert status_of(sb, "bob@example.com") == "subscribed"


def test_order_record_lifecycle(sb, dd, make_order_event, sample_order):
    dd.send_order_event(make_order_event(K.PLACED))  # contact created on demand
    refunded = dataclasses.replace(sample_order, refunded_total=12.0)
    dd.send_order_event(make_order_event(K.REFUNDED, order=refunded))
    records = sb.state("dotdigital", account=USER)["records"]
    (record,) = [r for k, r in records.items() if k.startswith("Orders/")]
    data = record.get("json", record)
    assert data["status"] == "partially refunded"
    assert data["orderTotal"] == 30.0
    found = contact(sb, "ada@example.com")
    assert not found["lists"], "a buyer never joins the marketing list"


def test_bulk_orders_import(sb, dd, make_order_event, sample_profile):
    dd.upsert_profile(sample_profile)
    job = dd.bulk_send_events([make_order_event(K.PLACED)])
    deadline = time.time() + 10
    while not job.done and time.time() < deadline:
        sb.advance(30)
        job = dd.get_bulk_job(job)
    assert job.status == "complete" and job.failed == 0


def test_consent_polling(sb, dd, sample_profile, make_consent):
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    dd.upsert_profile(dataclasses.replace(sample_profile, consent=make_consent()))
    sb.action("dotdigital", "unsubscribe", email="ada@example.com")
    updates = dd.fetch_consent_updates(since)
    assert [(u.email, u.status) for u in updates] == [
        ("ada@example.com", "unsubscribed")
    ]


def test_wrong_password_is_authentication(dd):
    bad = DotdigitalAdapter(dataclasses.replace(dd.settings, api_secret="nope"))
    with pytest.raises(EspError) as info:
        bad.test_connection()
    assert info.value.category.value == "authentication"
