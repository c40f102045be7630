"""Reconciliation of orders and extra contacts: reading them back, per ESP."""

import dataclasses
import datetime

from providers import events
from providers.base import BackendSettings
from providers.dotdigital.adapter import DotdigitalAdapter
from providers.klaviyo.adapter import KlaviyoAdapter
from providers.mailchimp import adapter as mc_adapter

NOW = datetime.datetime(2026, 3, 1, 10, 30, tzinfo=datetime.timezone.utc)

K = events.EventKind
DAY = datetime.timedelta(days=1)


def _klaviyo(sb):
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo", base_url=sb.url + "/klaviyo", api_key="pk_sandbox_ro"
        )
    )


def _mailchimp(sb):
    mc_adapter._merge_tags_cache.clear()
    return mc_adapter.MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url=sb.url + "/mailchimp",
            api_key="sandbox-ro-us1",
            mailchimp_list_id="aud00001",
            mailchimp_store_id="odoo-1",
        )
    )


def test_klaviyo_folds_placed_cancelled_refunded(sb, make_order_event, sample_order):
    adapter = _klaviyo(sb)
    for number in range(205):  # two pages of Placed Order events
        order = dataclasses.replace(sample_order, order_id=str(number))
        adapter.send_order_event(
            make_order_event(K.PLACED, order=order, unique_id=f"p-{number}")
        )
    adapter.send_order_event(
        make_order_event(
            K.CANCELLED,
            order=dataclasses.replace(sample_order, order_id="1"),
            unique_id="c-1",
            occurred_at=NOW + DAY,
        )
    )
    adapter.send_order_event(
        make_order_event(
            K.REFUNDED,
            order=dataclasses.replace(sample_order, order_id="2"),
            unique_id="r-2",
            value=12.0,
            occurred_at=NOW + 2 * DAY,
        )
    )
    found = adapter.read_orders(NOW - DAY, NOW + DAY)
    assert len(found) == 205
    assert found["0"].status == "placed"
    assert (found["0"].total, found["0"].refunded) == (42.0, 0.0)
    assert found["1"].status == "cancelled"
    assert found["2"].refunded == 12.0
    assert found["0"].placed_at == NOW
    assert adapter.read_orders(NOW + DAY, NOW + 2 * DAY) == {}, "no order that day"


def test_klaviyo_sees_injected_order_drift(sb, make_order_event, sample_order):
    adapter = _klaviyo(sb)
    adapter.send_order_event(make_order_event(K.PLACED))
    adapter.send_order_event(make_order_event(K.REFUNDED, unique_id="r", value=12.0))
    sb.action("klaviyo", "set_order_event_value", order_id="42", value=5.0)
    assert adapter.read_orders(NOW - DAY, NOW + DAY)["42"].refunded == 5.0
    sb.action("klaviyo", "drop_order_event", order_id="42")
    assert adapter.read_orders(NOW - DAY, NOW + DAY) == {}
    # The event id was forgotten with it: sending it again delivers it.
    adapter.send_order_event(make_order_event(K.PLACED))
    assert set(adapter.read_orders(NOW - DAY, NOW + DAY)) == {"42"}


def test_klaviyo_lists_contacts_page_by_page(sb, sample_profile):
    adapter = _klaviyo(sb)
    for number in range(130):
        adapter.upsert_profile(
            dataclasses.replace(
                sample_profile,
                email=f"x{number}@example.com",
                external_id=f"x{number}",
                phone="",
            )
        )
    emails, cursor = adapter.read_contacts_page()
    assert len(emails) == 100 and cursor
    more, cursor = adapter.read_contacts_page(cursor)
    assert len(more) == 30 and cursor is None
    assert set(emails + more) == {f"x{n}@example.com" for n in range(130)}


def test_mailchimp_reads_orders_of_the_period(sb, make_order_event, sample_order):
    adapter = _mailchimp(sb)
    adapter.ensure_store("Odoo shop", "EUR")
    adapter.send_order_event(make_order_event(K.PLACED))
    later = dataclasses.replace(sample_order, order_id="43", placed_at=NOW + 3 * DAY)
    adapter.send_order_event(make_order_event(K.PLACED, order=later))
    refunded = dataclasses.replace(sample_order, refunded_total=12.0)
    adapter.send_order_event(make_order_event(K.REFUNDED, order=refunded))
    found = adapter.read_orders(NOW - DAY, NOW + DAY)
    assert set(found) == {"42"}, "43 was placed after the period"
    remote = found["42"]
    assert remote.status == "partially_refunded"
    assert (remote.total, remote.refunded) == (30.0, None), "net total only"
    assert remote.email == "ada@example.com"


def test_mailchimp_lists_members_page_by_page(sb, sample_profile):
    adapter = _mailchimp(sb)
    for number in range(3):
        adapter.upsert_profile(
            dataclasses.replace(
                sample_profile,
                email=f"m{number}@example.com",
                external_id=f"m{number}",
                phone="",
            )
        )
    emails, cursor = adapter.read_contacts_page()
    assert cursor is None
    assert sorted(emails) == [f"m{n}@example.com" for n in range(3)]


def _dotdigital(sb):
    from providers.dotdigital import adapter as dd_adapter

    dd_adapter._fields_cache.clear()
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=sb.url + "/dotdigital",
            api_user="apiuser-sandbox-ro@apiconnector.com",
            api_secret="sandbox-password",
            dotdigital_address_book_id="1",
        )
    )


def test_dotdigital_reads_the_orders_collection(sb, make_order_event, sample_order):
    adapter = _dotdigital(sb)
    assert adapter.read_orders(NOW - DAY, NOW + DAY) == {}, "no collection yet"
    for number in range(3):
        order = dataclasses.replace(sample_order, order_id=str(number))
        adapter.send_order_event(make_order_event(K.PLACED, order=order))
    refunded = dataclasses.replace(sample_order, order_id="1", refunded_total=12.0)
    adapter.send_order_event(make_order_event(K.REFUNDED, order=refunded))
    cancelled = dataclasses.replace(sample_order, order_id="2")
    adapter.send_order_event(make_order_event(K.CANCELLED, order=cancelled))
    later = dataclasses.replace(sample_order, order_id="9", placed_at=NOW + 3 * DAY)
    adapter.send_order_event(make_order_event(K.PLACED, order=later))
    import providers.dotdigital.reconcile_orders as module

    module.PAGE, page = 2, module.PAGE  # several pages, by marker
    try:
        found = adapter.read_orders(NOW - DAY, NOW + DAY)
    finally:
        module.PAGE = page
    assert set(found) == {"0", "1", "2"}, "9 was placed after the period"
    assert (found["0"].status, found["0"].total, found["0"].refunded) == (
        "paid",
        42.0,
        0.0,
    )
    assert found["1"].refunded == 12.0
    assert found["2"].status == "cancelled"
    assert found["0"].editable and found["0"].email == "ada@example.com"
    gets = [r for r in sb.requests("dotdigital") if r["method"] == "GET"]
    assert len(gets) >= 3


def test_dotdigital_lists_contacts_by_marker(sb, sample_profile):
    import providers.dotdigital.reconcile_orders as module

    adapter = _dotdigital(sb)
    for number in range(5):
        adapter.upsert_profile(
            dataclasses.replace(
                sample_profile,
                email=f"d{number}@example.com",
                external_id=f"d{number}",
                phone="",
            )
        )
    module.PAGE, page = 2, module.PAGE
    try:
        emails, cursor, pages = [], None, 0
        while True:
            found, cursor = adapter.read_contacts_page(cursor)
            emails += found
            pages += 1
            if cursor is None:
                break
    finally:
        module.PAGE = page
    assert sorted(emails) == [f"d{n}@example.com" for n in range(5)]
    assert pages == 3
