"""Mailchimp e-commerce: customer, products, order lifecycle, store setup."""

import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.mailchimp.adapter import MailchimpAdapter
from sandbox import specs

BASE = "https://us6.api.mailchimp.com/3.0/ecommerce/stores/S1"
ORDERS = f"{BASE}/orders"
ORDER = f"{ORDERS}/42"
CUSTOMER = f"{BASE}/customers/res.partner-7"
K = events.EventKind


def adapter(**overrides):
    values = {
        "provider": "mailchimp",
        "base_url": "",
        "api_key": "0123456789abcdef-us6",
        "mailchimp_list_id": "L1",
        "mailchimp_store_id": "S1",
    }
    values.update(overrides)
    return MailchimpAdapter(BackendSettings(**values))


def body_of(call):
    return json.loads(call.request.body)


def assert_spec(method, template, body):
    assert specs.validate_request("mailchimp", method, template, body) == []


def products_exist():
    responses.get(f"{BASE}/products/P1", json={"id": "P1", "variants": [{"id": "P1"}]})
    responses.get(f"{BASE}/products/P2", json={"id": "P2", "variants": [{"id": "P2"}]})


@responses.activate
def test_placed_creates_customer_products_and_order(make_order_event):
    responses.put(CUSTOMER, json={})
    responses.get(f"{BASE}/products/P1", status=404, json={"title": "Not Found"})
    responses.put(f"{BASE}/products/P1", json={})
    responses.get(f"{BASE}/products/P2", json={"id": "P2", "variants": [{"id": "P2"}]})
    responses.post(ORDERS, json={"id": "42"})

    result = adapter().send_order_event(make_order_event(K.PLACED))

    assert result.external_id == "42"
    calls = [(c.request.method, c.request.url.split("?")[0]) for c in responses.calls]
    assert calls == [
        ("PUT", CUSTOMER),
        ("GET", f"{BASE}/products/P1"),
        ("PUT", f"{BASE}/products/P1"),
        ("GET", f"{BASE}/products/P2"),
        ("POST", ORDERS),
    ]
    customer = body_of(responses.calls[0])
    assert customer == {
        "id": "res.partner-7",
        "email_address": "ada@example.com",
        "opt_in_status": False,
    }
    assert_spec(
        "PUT", "/3.0/ecommerce/stores/{store_id}/customers/{customer_id}", customer
    )
    product = body_of(responses.calls[2])
    assert product["variants"] == [
        {
            "id": "P1",
            "title": "Tea Pot",
            "sku": "SKU-1",
            "price": 30.0,
            "url": "https://shop.example.com/p/1",
            "image_url": "https://shop.example.com/p/1.png",
        }
    ]
    assert_spec(
        "PUT", "/3.0/ecommerce/stores/{store_id}/products/{product_id}", product
    )
    order = body_of(responses.calls[4])
    assert order == {
        "id": "42",
        "customer": customer,
        "currency_code": "EUR",
        "order_total": 42.0,
        "tax_total": 7.0,
        "shipping_total": 0.0,
        "processed_at_foreign": "2026-03-01T10:30:00+00:00",
        "updated_at_foreign": "2026-03-01T10:30:00+00:00",
        "financial_status": "paid",
        "lines": [
            {
                "id": "11",
                "product_id": "P1",
                "product_variant_id": "P1",
                "quantity": 1,
                "price": 30.0,
            },
            {
                "id": "12",
                "product_id": "P2",
                "product_variant_id": "P2",
                "quantity": 2,
                "price": 12.0,
            },
        ],
    }
    assert_spec("POST", "/3.0/ecommerce/stores/{store_id}/orders", order)


@responses.activate
def test_placed_again_patches_existing_order(make_order_event):
    responses.put(CUSTOMER, json={})
    products_exist()
    responses.post(
        ORDERS,
        status=400,
        json={
            "title": "Bad Request",
            "detail": "An order with the provided ID already exists.",
        },
    )
    responses.patch(ORDER, json={})

    adapter().send_order_event(make_order_event(K.PLACED))

    patch = body_of(responses.calls[-1])
    assert responses.calls[-1].request.method == "PATCH"
    assert "id" not in patch and patch["customer"] == {"id": "res.partner-7"}
    assert patch["order_total"] == 42.0
    assert_spec("PATCH", "/3.0/ecommerce/stores/{store_id}/orders/{order_id}", patch)


@pytest.mark.parametrize(
    ("refunded", "status", "total"),
    [(12.0, "partially_refunded", 30.0), (42.0, "refunded", 0.0)],
)
@responses.activate
def test_refund_patches_status_and_net_total(
    make_order_event, sample_order, refunded, status, total
):
    order = dataclasses.replace(sample_order, refunded_total=refunded)
    responses.patch(ORDER, json={})
    adapter().send_order_event(make_order_event(K.REFUNDED, order=order, value=12.0))
    assert len(responses.calls) == 1
    patch = body_of(responses.calls[0])
    assert patch == {
        "financial_status": status,
        "order_total": total,
        "updated_at_foreign": "2026-03-01T10:30:00+00:00",
    }
    assert_spec("PATCH", "/3.0/ecommerce/stores/{store_id}/orders/{order_id}", patch)


@responses.activate
def test_cancel_and_fulfil_patch_their_status(make_order_event, sample_order):
    responses.patch(ORDER, json={})
    adapter().send_order_event(make_order_event(K.CANCELLED))
    shipped = dataclasses.replace(sample_order, fulfillment_status="partial")
    adapter().send_order_event(make_order_event(K.FULFILLED, order=shipped))
    cancel, fulfil = (body_of(c) for c in responses.calls)
    assert cancel["financial_status"] == "cancelled"
    assert cancel["cancelled_at_foreign"] == "2026-03-01T10:30:00+00:00"
    assert fulfil == {
        "fulfillment_status": "partial",
        "updated_at_foreign": "2026-03-01T10:30:00+00:00",
    }


@responses.activate
def test_fulfilled_without_status_sends_shipped(make_order_event):
    responses.patch(ORDER, json={})
    adapter().send_order_event(make_order_event(K.FULFILLED))
    assert body_of(responses.calls[0])["fulfillment_status"] == "shipped"


@responses.activate
def test_patch_of_unknown_order_creates_it_in_its_state(make_order_event, sample_order):
    order = dataclasses.replace(sample_order, refunded_total=42.0)
    responses.patch(ORDER, status=404, json={"title": "Resource Not Found"})
    responses.put(CUSTOMER, json={})
    products_exist()
    responses.post(ORDERS, json={})
    adapter().send_order_event(make_order_event(K.REFUNDED, order=order))
    created = body_of(responses.calls[-1])
    assert created["financial_status"] == "refunded"
    assert created["order_total"] == 0.0


@responses.activate
def test_returned_is_skipped(make_order_event):
    result = adapter().send_order_event(make_order_event(K.RETURNED))
    assert result.skipped_reason and result.requests == 0
    assert len(responses.calls) == 0


def test_missing_store_is_configuration(make_order_event):
    with pytest.raises(EspError) as info:
        adapter(mailchimp_store_id="").send_order_event(make_order_event(K.PLACED))
    assert info.value.category == ErrorCategory.CONFIGURATION


@responses.activate
def test_fractional_quantity_and_missing_variant(make_order_event, sample_order):
    line = dataclasses.replace(sample_order.lines[0], quantity=0.4, variant_id="P1-red")
    order = dataclasses.replace(sample_order, lines=(line,))
    responses.put(CUSTOMER, json={})
    responses.get(f"{BASE}/products/P1", json={"id": "P1", "variants": [{"id": "P1"}]})
    responses.put(f"{BASE}/products/P1/variants/P1-red", json={})
    responses.post(ORDERS, json={})
    adapter().send_order_event(make_order_event(K.PLACED, order=order))
    variant = body_of(responses.calls[2])
    assert variant["id"] == "P1-red"
    assert_spec(
        "PUT",
        "/3.0/ecommerce/stores/{store_id}/products/{product_id}/variants/{variant_id}",
        variant,
    )
    line_body = body_of(responses.calls[3])["lines"][0]
    assert line_body["quantity"] == 1
    assert line_body["product_variant_id"] == "P1-red"


@responses.activate
def test_ensure_store_creates_when_missing_and_sets_syncing():
    responses.get(BASE, status=404, json={"title": "Resource Not Found"})
    responses.post("https://us6.api.mailchimp.com/3.0/ecommerce/stores", json={})
    responses.patch(BASE, json={})
    result = adapter().ensure_store("My Shop", "EUR")
    assert result.detail == {"created": True}
    store = body_of(responses.calls[1])
    assert store == {
        "id": "S1",
        "list_id": "L1",
        "name": "My Shop",
        "currency_code": "EUR",
        "platform": "Odoo",
    }
    assert_spec("POST", "/3.0/ecommerce/stores", store)
    adapter().set_store_syncing(True)
    assert body_of(responses.calls[2]) == {"is_syncing": True}


@responses.activate
def test_ensure_store_existing_makes_no_write():
    responses.get(BASE, json={"id": "S1"})
    assert adapter().ensure_store("My Shop", "EUR").detail == {"created": False}
    assert len(responses.calls) == 1


@responses.activate
def test_upsert_catalog_item_puts_product_with_variants():
    item = events.CatalogItem(
        external_id="T1",
        title="Tea Pot",
        description="Cast iron",
        url="https://shop.example.com/p/t1",
        image_url="",
        price=30.0,
        currency="EUR",
        variants=(
            events.CatalogVariant("T1-red", "SKU-R", "Red", 30.0, 4.0),
            events.CatalogVariant("T1-blue", "SKU-B", "Blue", 32.5, -2.0),
        ),
    )
    responses.put(f"{BASE}/products/T1", json={})
    result = adapter().upsert_catalog_item(item)
    assert result.external_id == "T1"
    body = body_of(responses.calls[0])
    assert [v["id"] for v in body["variants"]] == ["T1-red", "T1-blue"]
    assert body["variants"][1]["inventory_quantity"] == 0
    assert body["variants"][0]["url"] == "https://shop.example.com/p/t1"
    assert_spec("PUT", "/3.0/ecommerce/stores/{store_id}/products/{product_id}", body)


@responses.activate
def test_store_created_meanwhile_by_another_job_sends_again(make_order_event):
    """First orders after set-up: another job created the store between our
    404 and our look-up; the order is sent once more, not failed."""
    responses.put(CUSTOMER, json={})
    products_exist()
    responses.post(ORDERS, status=404, json={"title": "Resource Not Found"})
    responses.get(BASE, json={"id": "S1"})
    responses.post(ORDERS, json={"id": "42"})
    result = adapter().send_order_event(make_order_event(K.PLACED))
    assert result.external_id == "42"
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert [c.response.status_code for c in posts] == [404, 200]
    # A second 404 is a real one.
    responses.reset()
    responses.put(CUSTOMER, json={})
    products_exist()
    responses.post(ORDERS, status=404, json={"title": "Resource Not Found"})
    responses.get(BASE, json={"id": "S1"})
    with pytest.raises(EspError) as info:
        adapter().send_order_event(make_order_event(K.PLACED))
    assert info.value.status == 404


@responses.activate
def test_two_jobs_creating_the_store_at_once():
    responses.get(BASE, status=404, json={"title": "Resource Not Found"})
    responses.post(
        "https://us6.api.mailchimp.com/3.0/ecommerce/stores",
        status=400,
        json={"title": "Bad Request", "detail": "A store with the provided ID"},
    )
    responses.get(BASE, json={"id": "S1"})
    assert adapter().ensure_store("My Shop", "EUR").detail == {"created": False}


@responses.activate
def test_release_moves_a_held_order_to_paid(make_order_event, sample_order):
    """Release gate: Mailchimp's order confirmation follows "paid"."""
    responses.patch(ORDER, json={})
    adapter().send_order_event(make_order_event(K.RELEASED, order=sample_order))
    patch = body_of(responses.calls[0])
    assert patch["financial_status"] == "paid"
    assert_spec("PATCH", "/3.0/ecommerce/stores/{store_id}/orders/{order_id}", patch)


@responses.activate
def test_inventory_deltas_patch_the_moved_variants():
    responses.patch(f"{BASE}/products/T1/variants/V1", json={})
    responses.patch(
        f"{BASE}/products/T1/variants/V2", status=404, json={"title": "Not Found"}
    )
    levels = [
        events.InventoryLevel("V1", "SKU-1", 3.0, product_external_id="T1"),
        events.InventoryLevel("V2", "SKU-2", 0.0, product_external_id="T1"),
    ]
    result = adapter().update_inventory(levels)
    assert body_of(responses.calls[0]) == {"inventory_quantity": 3}
    assert_spec(
        "PATCH",
        "/3.0/ecommerce/stores/{store_id}/products/{product_id}/variants/{variant_id}",
        body_of(responses.calls[0]),
    )
    assert result.detail == {"missing": ["V2"]}
