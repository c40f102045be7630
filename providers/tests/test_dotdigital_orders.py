"""Dotdigital orders (insight data) and bulk imports."""

import dataclasses
import datetime
import json
import re
import urllib.parse

import pytest
import responses

from providers import events
from providers.base import BackendSettings, BulkJob
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter
from sandbox import specs

API = "https://r2-api.dotdigital.com"
RECORD = f"{API}/insightData/v3/contacts/email/ada@example.com/Orders/42"
K = events.EventKind
SPEC_QUIRKS = (
    re.compile(r"\('resubscribeOptions' was unexpected\)"),
    re.compile(r"\('json', 'key' were unexpected\)|\('key', 'json' were unexpected\)"),
    re.compile(r"is not of type 'string'"),
)


def spec_problems(spec, method, template, body=None, query=None):
    found = specs.validate_request(spec, method, template, body, query)
    return [v for v in found if not any(q.search(v.message) for q in SPEC_QUIRKS)]


def adapter(**extra):
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url="",
            api_user="apiuser-x@apiconnector.com",
            api_secret="pw-secret",
            extra={"api_endpoint": API, **extra},
        )
    )


def body_of(call):
    return json.loads(call.request.body)


@pytest.fixture(autouse=True)
def _clear_fields_cache():
    dd_adapter._fields_cache.clear()
    yield
    dd_adapter._fields_cache.clear()


@responses.activate
def test_placed_order_record(make_order_event):
    responses.put(RECORD, status=201)
    result = adapter().send_order_event(make_order_event(K.PLACED))
    assert result.external_id == "42" and result.detail == {"status": "placed"}
    record = body_of(responses.calls[0])
    assert record == {
        "id": "42",
        "name": "S00042",
        "status": "placed",
        "email": "ada@example.com",
        "currency": "EUR",
        "purchaseDate": "2026-03-01T10:30:00Z",
        "updatedAt": "2026-03-01T10:30:00Z",
        "orderSubtotal": 35.0,
        "taxTotal": 7.0,
        "deliveryTotal": 0.0,
        "orderTotal": 42.0,
        "grossTotal": 42.0,
        "refundedTotal": 0.0,
        "financialStatus": "paid",
        "products": [
            {
                "id": "P1",
                "sku": "SKU-1",
                "name": "Tea Pot",
                "qty": 1.0,
                "price": 30.0,
                "total": 30.0,
                "categories": "Kitchen",
                "url": "https://shop.example.com/p/1",
                "imageUrl": "https://shop.example.com/p/1.png",
            },
            {
                "id": "P2",
                "sku": "SKU-2",
                "name": "Cup",
                "qty": 2.0,
                "price": 6.0,
                "total": 12.0,
            },
        ],
    }
    template = (
        "/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}"
    )
    assert spec_problems("dotdigital_insight", "PUT", template, record) == []


@pytest.mark.parametrize(
    ("kind", "refunded", "fulfilment", "status", "total"),
    [
        (K.CANCELLED, 0.0, "", "cancelled", 42.0),
        (K.FULFILLED, 0.0, "shipped", "fulfilled", 42.0),
        (K.REFUNDED, 12.0, "", "partially refunded", 30.0),
        (K.REFUNDED, 42.0, "", "refunded", 0.0),
        (K.RETURNED, 0.0, "shipped", "returned", 42.0),
    ],
)
@responses.activate
def test_lifecycle_statuses(
    make_order_event, sample_order, kind, refunded, fulfilment, status, total
):
    order = dataclasses.replace(
        sample_order, refunded_total=refunded, fulfillment_status=fulfilment
    )
    responses.put(RECORD, status=204)
    adapter().send_order_event(make_order_event(kind, order=order))
    record = body_of(responses.calls[0])
    assert (record["status"], record["orderTotal"]) == (status, total)


@responses.activate
def test_unknown_contact_is_created_unsubscribed_then_record_retried(
    make_order_event,
):
    responses.put(
        RECORD,
        status=404,
        json={
            "errorCode": "insightData:contactNotFound",
            "description": "The following contacts could not be found",
        },
    )
    responses.patch(f"{API}/contacts/v3/email/ada@example.com", json={"contactId": 3})
    responses.put(RECORD, status=201)
    adapter().send_order_event(make_order_event(K.PLACED))
    methods = [c.request.method for c in responses.calls]
    assert methods == ["PUT", "PATCH", "PUT"]
    created = body_of(responses.calls[1])
    assert created == {"identifiers": {"email": "ada@example.com"}}, "neutral"


@responses.activate
def test_missing_collection_is_created_once(make_order_event):
    missing = {
        "errorCode": "insightData:collectionNotFound",
        "description": "The collection could not be found",
    }
    responses.put(RECORD, status=404, json=missing)
    responses.post(f"{API}/insightData/v3/collections/Orders", status=201)
    responses.put(RECORD, status=404, json=missing)
    with pytest.raises(Exception) as info:
        adapter().send_order_event(make_order_event(K.PLACED))
    assert info.value.category.value == "configuration"
    create = responses.calls[1].request
    query = urllib.parse.parse_qs(urllib.parse.urlparse(create.url).query)
    assert query == {"collectionScope": ["contact"], "collectionType": ["orders"]}
    assert len(responses.calls) == 3


@responses.activate
def test_bulk_import_profiles(sample_profile, make_consent):
    responses.get(f"{API}/v2/data-fields", json=[])
    responses.post(f"{API}/v2/data-fields", json={})
    responses.put(f"{API}/contacts/v3/import", status=202, json={"importId": "imp1"})
    subscribed = dataclasses.replace(sample_profile, consent=make_consent())
    unknown = dataclasses.replace(sample_profile, email="bob@example.com")
    bad = dataclasses.replace(sample_profile, email="bad")
    job = adapter().bulk_import_profiles([subscribed, unknown, bad])
    assert (job.job_id, job.status, job.total, job.failed) == (
        "contacts:imp1",
        "queued",
        3,
        1,
    )
    created = [body_of(c)["name"] for c in responses.calls[1:3]]
    assert created == ["LOYALTY_TIER", "ORDERS_COUNT"]
    body = body_of(responses.calls[3])
    assert body["mergeOption"] == "overwrite"
    first, second = body["contacts"]
    assert first["matchIdentifier"] == "email"
    # No status for an opt-in: new contacts default to subscribed, existing
    # ones (maybe unsubscribed in Dotdigital) keep theirs. Never "subscribed".
    assert first["channelProperties"] == {"email": {"optInType": "single"}}
    assert "channelProperties" not in second, "neutral: Dotdigital's default"
    assert "lists" not in second
    assert (
        spec_problems("dotdigital_contacts", "PUT", "/contacts/v3/import", body) == []
    )


@responses.activate
def test_bulk_send_events_and_poll(make_order_event, sample_order):
    responses.put(f"{API}/insightData/v3/import", status=202, json={"importId": "i9"})
    refunded = dataclasses.replace(sample_order, refunded_total=42.0)
    job = adapter().bulk_send_events(
        [
            make_order_event(K.PLACED, order=refunded),
            make_order_event(K.REFUNDED, order=refunded),
        ]
    )
    assert job.job_id == "insight:i9" and job.total == 1
    body = body_of(responses.calls[0])
    assert body["collectionName"] == "Orders"
    assert body["collectionScope"] == "contact"
    assert body["collectionType"] == "orders"
    (record,) = body["records"]
    assert record["key"] == "42"
    assert record["contactIdentity"] == {
        "identifier": "email",
        "value": "ada@example.com",
    }
    assert record["json"]["status"] == "refunded"
    assert (
        spec_problems("dotdigital_insight", "PUT", "/insightData/v3/import", body) == []
    )

    responses.get(
        f"{API}/insightData/v3/import/i9",
        json={
            "importId": "i9",
            "status": "Complete",
            "summary": {"totalRecords": 1, "totalImported": 0, "totalRejected": 1},
            "failures": [
                {
                    "key": "42",
                    "failureReason": "JsonValueTooLong",
                    "details": ["Field 'name' is too long"],
                    "collectionOwner": {"ownerType": "contact"},
                    "json": {},
                }
            ],
        },
    )
    done = adapter().get_bulk_job(job)
    assert done.status == "complete" and done.failed == 1
    assert done.errors == [("42", "JsonValueTooLong; Field 'name' is too long")]


@responses.activate
def test_contact_import_status_failures():
    responses.get(
        f"{API}/contacts/v3/import/imp1",
        json={
            "importId": "imp1",
            "status": "Finished",
            "summary": {"newContacts": 1, "updatedContacts": 1, "invalidEntries": 1},
            "failures": [
                {
                    "matchIdentifier": "email",
                    "identifiers": {"email": "bob@example.com"},
                    "failures": [
                        {"failureCode": "invalidEmail", "description": "Bad email"}
                    ],
                }
            ],
        },
    )
    job = adapter().get_bulk_job(BulkJob(job_id="contacts:imp1", total=3))
    assert (job.status, job.completed, job.failed) == ("complete", 2, 1)
    assert job.errors == [("bob@example.com", "Bad email")]


@responses.activate
def test_import_still_running():
    responses.get(
        f"{API}/contacts/v3/import/imp1",
        json={"importId": "imp1", "status": "NotFinished"},
    )
    job = adapter().get_bulk_job(BulkJob(job_id="contacts:imp1"))
    assert job.status == "processing" and not job.done


@responses.activate
def test_catalog_item_record_creates_collection_when_missing():
    item = events.CatalogItem(
        external_id="T1",
        title="Tea Pot",
        description="",
        url="https://shop.example.com/p/t1",
        image_url="",
        price=30.0,
        currency="EUR",
        categories=("Kitchen", "Tea"),
        variants=(events.CatalogVariant("T1-red", "SKU-R", "Red", 30.0, 4.0),),
    )
    url = f"{API}/insightData/v3/account/Catalog/T1"
    responses.put(
        url,
        status=404,
        json={"errorCode": "insightData:collectionNotFound", "description": "x"},
    )
    responses.post(f"{API}/insightData/v3/collections/Catalog", status=201)
    responses.put(url, status=201)
    assert adapter().upsert_catalog_item(item).external_id == "T1"
    record = body_of(responses.calls[2])
    assert record["categories"] == "Kitchen, Tea"
    assert record["variants"] == [
        {"id": "T1-red", "sku": "SKU-R", "name": "Red", "price": 30.0, "stock": 4.0}
    ]
    template = "/insightData/v3/account/{collectionName}/{recordId}"
    assert spec_problems("dotdigital_insight", "PUT", template, record) == []


@responses.activate
def test_released_order_record_carries_the_release(make_order_event, sample_order):
    """Release gate: held orders are pending and carry no releasedAt; the
    release turns them paid with releasedAt for Dotdigital programs."""
    responses.put(RECORD, status=201)
    held = dataclasses.replace(sample_order, financial_status="pending")
    adapter().send_order_event(make_order_event(K.PLACED, order=held))
    record = body_of(responses.calls[0])
    assert record["financialStatus"] == "pending" and "releasedAt" not in record
    when = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc)
    released = dataclasses.replace(sample_order, released_at=when)
    adapter().send_order_event(make_order_event(K.RELEASED, order=released))
    record = body_of(responses.calls[1])
    assert record["status"] == "placed"
    assert record["financialStatus"] == "paid"
    assert record["releasedAt"] == "2026-03-02T09:00:00Z"
