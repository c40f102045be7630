"""KlaviyoAdapter requests: exact method, path, headers and spec-valid bodies."""

import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter, const
from providers.klaviyo.builders import e164
from sandbox import specs

BASE = "https://a.klaviyo.com"
API_KEY = "pk_test_0123456789abcdef"


@pytest.fixture
def settings():
    return BackendSettings(
        provider="klaviyo",
        base_url=BASE,
        api_key=API_KEY,
        klaviyo_list_id="LST123",
        consent_source="Odoo Shop",
        webhook_secret="whsec-0123456789abcdef",
    )


@pytest.fixture
def adapter(settings):
    return KlaviyoAdapter(settings)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def body_of(call):
    return json.loads(call.request.body)


def assert_spec_valid(method, template, body=None, query=None):
    violations = specs.validate_request(
        "klaviyo", method, template, body, query=query, content_type=const.MEDIA_TYPE
    )
    assert not violations, [str(v) for v in violations]


def test_spec_validation_is_live():
    """Guard: the spec is loaded, so an invalid body is caught."""
    assert specs.available("klaviyo")
    bad = {"data": {"type": "event", "attributes": {"properties": {}}}}
    assert specs.validate_request("klaviyo", "POST", "/api/events", bad)


def test_headers_and_connection(adapter, mocked):
    mocked.get(
        f"{BASE}/api/accounts",
        json={
            "data": [
                {
                    "type": "account",
                    "id": "AbC123",
                    "attributes": {
                        "contact_information": {"organization_name": "Tea Shop"}
                    },
                }
            ]
        },
        headers={"RateLimit-Remaining": "3", "RateLimit-Limit": "3"},
    )
    assert adapter.test_connection() == "Klaviyo account Tea Shop (AbC123)"
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == f"Klaviyo-API-Key {API_KEY}"
    assert request.headers["revision"] == "2026-07-15"
    assert request.headers["Accept"] == "application/vnd.api+json"
    assert "Content-Type" not in request.headers
    assert adapter.last_rate_limit["remaining"] == 3


def test_revision_follows_settings(settings, mocked):
    adapter = KlaviyoAdapter(
        BackendSettings(**{**settings.__dict__, "klaviyo_revision": "2025-10-15"})
    )
    mocked.get(f"{BASE}/api/accounts", json={"data": [{"id": "X"}]})
    assert adapter.test_connection() == "Klaviyo account X"
    assert mocked.calls[0].request.headers["revision"] == "2025-10-15"


def test_upsert_profile(adapter, mocked, sample_profile):
    mocked.post(
        f"{BASE}/api/profile-import",
        json={"data": {"type": "profile", "id": "01PROFILE"}},
        status=201,
        headers={"RateLimit-Remaining": "74"},
    )
    result = adapter.upsert_profile(sample_profile)
    assert result.external_id == "01PROFILE"
    assert result.detail["created"] is True
    assert result.detail["rate_limit"]["remaining"] == 74
    call = mocked.calls[0]
    assert call.request.headers["Content-Type"] == "application/vnd.api+json"
    body = body_of(call)
    assert_spec_valid("POST", "/api/profile-import", body)
    assert body == {
        "data": {
            "type": "profile",
            "attributes": {
                "email": "ada@example.com",
                "external_id": "res.partner-7",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "phone_number": "+442079460958",
                "organization": "Analytical Engines",
                "location": {
                    "address1": "1 Main St",
                    "address2": "Flat 2",
                    "city": "London",
                    "region": "Greater London",
                    "zip": "N1 9GU",
                    "country": "United Kingdom",
                },
                "properties": {
                    "Loyalty Tier": "gold",
                    "Orders Count": 3,
                    "Odoo Tags": ["VIP", "Newsletter"],
                    "Odoo Customer Type": "b2c",
                },
            },
        }
    }


def test_upsert_profile_keeps_invalid_phone_as_property(
    adapter, mocked, sample_profile
):
    mocked.post(f"{BASE}/api/profile-import", json={"data": {"id": "P"}})
    profile = events.Profile(
        email="bob@example.com", external_id="9", phone="0475 12 34 56"
    )
    adapter.upsert_profile(profile)
    attributes = body_of(mocked.calls[0])["data"]["attributes"]
    assert "phone_number" not in attributes
    assert "location" not in attributes
    assert attributes["properties"]["Odoo Phone"] == "0475 12 34 56"
    assert attributes["properties"]["Odoo Tags"] == []
    assert_spec_valid("POST", "/api/profile-import", body_of(mocked.calls[0]))


def test_upsert_profile_without_email_is_a_data_error(adapter, mocked):
    with pytest.raises(EspError) as info:
        adapter.upsert_profile(events.Profile(email="", external_id="1"))
    assert info.value.category == ErrorCategory.DATA
    assert info.value.field == "email"
    assert not mocked.calls


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0032 (475) 12.34.56", "+32475123456"),
        ("+1-202-555-0143", "+12025550143"),
        ("0475 12 34 56", ""),
        ("+0123456789", ""),
        ("+12", ""),
        ("", ""),
    ],
)
def test_e164(raw, expected):
    assert e164(raw) == expected


def test_subscribe(adapter, mocked, make_consent):
    mocked.post(f"{BASE}/api/profile-subscription-bulk-create-jobs", status=202)
    result = adapter.update_consent(make_consent(source="Website checkout"))
    assert result.detail["action"] == "subscribed"
    body = body_of(mocked.calls[0])
    assert_spec_valid("POST", "/api/profile-subscription-bulk-create-jobs", body)
    assert body == {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": "Website checkout",
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "ada@example.com",
                                "subscriptions": {
                                    "email": {
                                        "marketing": {
                                            "consent": "SUBSCRIBED",
                                            "consented_at": "2026-03-01T10:30:00Z",
                                        }
                                    }
                                },
                            },
                        }
                    ]
                },
            },
            "relationships": {"list": {"data": {"type": "list", "id": "LST123"}}},
        }
    }


def test_subscribe_source_falls_back_to_backend(adapter, mocked, make_consent):
    """The partner's recorded source wins; the backend's only fills a gap."""
    url = f"{BASE}/api/profile-subscription-bulk-create-jobs"
    mocked.post(url, status=202)
    mocked.post(url, status=202)
    adapter.update_consent(make_consent(source="Trade fair"))
    adapter.update_consent(make_consent(source=""))
    sources = [body_of(c)["data"]["attributes"]["custom_source"] for c in mocked.calls]
    assert sources == ["Trade fair", "Odoo Shop"]


def test_unsubscribe_is_global(adapter, mocked, make_consent):
    mocked.post(f"{BASE}/api/profile-subscription-bulk-delete-jobs", status=202)
    adapter.update_consent(make_consent(events.ConsentStatus.UNSUBSCRIBED))
    body = body_of(mocked.calls[0])
    assert_spec_valid("POST", "/api/profile-subscription-bulk-delete-jobs", body)
    assert "relationships" not in body["data"]
    profile = body["data"]["attributes"]["profiles"]["data"][0]
    assert profile["attributes"] == {
        "email": "ada@example.com",
        "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
    }


def test_suppress(adapter, mocked, make_consent):
    mocked.post(f"{BASE}/api/profile-suppression-bulk-create-jobs", status=202)
    consent = make_consent(events.ConsentStatus.UNSUBSCRIBED, suppressed=True)
    assert adapter.update_consent(consent).detail["action"] == "suppressed"
    body = body_of(mocked.calls[0])
    assert_spec_valid("POST", "/api/profile-suppression-bulk-create-jobs", body)
    assert body == {
        "data": {
            "type": "profile-suppression-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {"type": "profile", "attributes": {"email": "ada@example.com"}}
                    ]
                }
            },
        }
    }


def test_never_opted_in_is_never_subscribed(adapter, mocked, make_consent):
    result = adapter.update_consent(make_consent(events.ConsentStatus.NEVER))
    assert result.skipped_reason
    assert result.requests == 0
    no_email = make_consent(events.ConsentStatus.NEVER, email="")
    assert adapter.update_consent(no_email).skipped_reason
    assert not mocked.calls


def test_placed_order_sends_order_and_product_events(adapter, mocked, make_order_event):
    mocked.post(f"{BASE}/api/events", status=202)
    event = make_order_event(properties={"Channel": "Website"})
    result = adapter.send_order_event(event)
    assert result.requests == 3
    bodies = [body_of(call) for call in mocked.calls]
    for body in bodies:
        assert_spec_valid("POST", "/api/events", body)
    placed = bodies[0]["data"]["attributes"]
    assert placed["metric"] == {
        "data": {"type": "metric", "attributes": {"name": "Placed Order"}}
    }
    assert placed["profile"]["data"]["attributes"] == {
        "email": "ada@example.com",
        "external_id": "res.partner-7",
    }
    assert placed["unique_id"] == "odoo-db-sale.order-42-placed"
    assert placed["time"] == "2026-03-01T10:30:00Z"
    assert placed["value"] == 42.0
    assert placed["value_currency"] == "EUR"
    assert "backfill" not in placed
    props = placed["properties"]
    assert props["OrderId"] == "42"
    assert props["OrderName"] == "S00042"
    assert props["ItemNames"] == ["Tea Pot", "Cup"]
    assert props["Channel"] == "Website"
    assert props["Items"][0] == {
        "ProductID": "P1",
        "SKU": "SKU-1",
        "ProductName": "Tea Pot",
        "Quantity": 1.0,
        "ItemPrice": 30.0,
        "RowTotal": 30.0,
        "ProductURL": "https://shop.example.com/p/1",
        "ImageURL": "https://shop.example.com/p/1.png",
        "Categories": ["Kitchen"],
    }
    products = [b["data"]["attributes"] for b in bodies[1:]]
    assert [a["metric"]["data"]["attributes"]["name"] for a in products] == [
        "Ordered Product",
        "Ordered Product",
    ]
    assert [a["unique_id"] for a in products] == [
        "odoo-db-sale.order-42-placed:11",
        "odoo-db-sale.order-42-placed:12",
    ]
    assert [a["value"] for a in products] == [30.0, 12.0]
    assert products[1]["properties"]["OrderId"] == "42"
    assert products[1]["properties"]["SKU"] == "SKU-2"


@pytest.mark.parametrize(
    ("kind", "metric"),
    [
        (events.EventKind.CANCELLED, "Cancelled Order"),
        (events.EventKind.FULFILLED, "Fulfilled Order"),
        (events.EventKind.REFUNDED, "Refunded Order"),
        (events.EventKind.RETURNED, "Returned Items"),
    ],
)
def test_lifecycle_events_send_one_event(
    adapter, mocked, make_order_event, kind, metric
):
    mocked.post(f"{BASE}/api/events", status=202)
    event = make_order_event(kind, reference="WH/OUT/00007", value=12.0)
    result = adapter.send_order_event(event)
    assert result.requests == 1
    assert result.external_id == event.unique_id
    body = body_of(mocked.calls[0])
    assert_spec_valid("POST", "/api/events", body)
    attributes = body["data"]["attributes"]
    assert attributes["metric"]["data"]["attributes"]["name"] == metric
    assert attributes["properties"]["Reference"] == "WH/OUT/00007"
    assert attributes["value"] == 12.0


def _catalog_item():
    return events.CatalogItem(
        external_id="tmpl-5",
        title="Tea Pot",
        description="A pot for tea",
        url="https://shop.example.com/p/5",
        image_url="https://shop.example.com/p/5.png",
        price=30.0,
        currency="EUR",
        variants=(
            events.CatalogVariant(
                external_id="prod-51",
                sku="TP-RED",
                title="Tea Pot (red)",
                price=30.0,
                inventory_quantity=4.0,
            ),
        ),
    )


def test_catalog_item_created(adapter, mocked):
    mocked.post(f"{BASE}/api/catalog-items", status=201, json={"data": {"id": "x"}})
    mocked.post(f"{BASE}/api/catalog-variants", status=201, json={"data": {}})
    result = adapter.upsert_catalog_item(_catalog_item())
    assert result.external_id == "$custom:::$default:::tmpl-5"
    assert result.requests == 2
    assert result.detail["created"] is True
    item, variant = (body_of(call) for call in mocked.calls)
    assert_spec_valid("POST", "/api/catalog-items", item)
    assert_spec_valid("POST", "/api/catalog-variants", variant)
    assert item["data"]["attributes"] == {
        "external_id": "tmpl-5",
        "integration_type": "$custom",
        "catalog_type": "$default",
        "title": "Tea Pot",
        "description": "A pot for tea",
        "url": "https://shop.example.com/p/5",
        "price": 30.0,
        "image_full_url": "https://shop.example.com/p/5.png",
        "published": True,
    }
    attributes = variant["data"]["attributes"]
    assert attributes["sku"] == "TP-RED"
    assert attributes["inventory_quantity"] == 4.0
    assert attributes["inventory_policy"] == 1
    assert attributes["url"] == "https://shop.example.com/p/5"
    assert variant["data"]["relationships"]["item"]["data"] == {
        "type": "catalog-item",
        "id": "$custom:::$default:::tmpl-5",
    }


def test_catalog_item_updated_after_409(adapter, mocked):
    duplicate = {"errors": [{"status": 409, "code": "duplicate", "detail": "exists"}]}
    mocked.post(f"{BASE}/api/catalog-items", status=409, json=duplicate)
    mocked.patch(
        f"{BASE}/api/catalog-items/$custom:::$default:::tmpl-5", json={"data": {}}
    )
    mocked.post(f"{BASE}/api/catalog-variants", status=409, json=duplicate)
    mocked.patch(
        f"{BASE}/api/catalog-variants/$custom:::$default:::prod-51", json={"data": {}}
    )
    result = adapter.upsert_catalog_item(_catalog_item())
    assert result.requests == 4
    assert result.detail["created"] is False
    methods = [(c.request.method, c.request.path_url) for c in mocked.calls]
    assert methods == [
        ("POST", "/api/catalog-items"),
        ("PATCH", "/api/catalog-items/$custom:::$default:::tmpl-5"),
        ("POST", "/api/catalog-variants"),
        ("PATCH", "/api/catalog-variants/$custom:::$default:::prod-51"),
    ]
    item_patch, variant_patch = body_of(mocked.calls[1]), body_of(mocked.calls[3])
    assert_spec_valid("PATCH", "/api/catalog-items/{id}", item_patch)
    assert_spec_valid("PATCH", "/api/catalog-variants/{id}", variant_patch)
    assert item_patch["data"]["id"] == "$custom:::$default:::tmpl-5"
    assert "external_id" not in item_patch["data"]["attributes"]
    assert variant_patch["data"]["attributes"]["inventory_quantity"] == 4.0


def test_catalog_item_other_errors_are_raised(adapter, mocked):
    mocked.post(
        f"{BASE}/api/catalog-items",
        status=400,
        json={
            "errors": [
                {"detail": "bad url", "source": {"pointer": "/data/attributes/url"}}
            ]
        },
    )
    with pytest.raises(EspError) as info:
        adapter.upsert_catalog_item(_catalog_item())
    assert info.value.field == "url"
    assert len(mocked.calls) == 1


def test_catalog_item_without_url_is_a_data_error(adapter, mocked):
    item = events.CatalogItem(
        external_id="t",
        title="T",
        description="",
        url="",
        image_url="",
        price=1.0,
        currency="EUR",
    )
    with pytest.raises(EspError) as info:
        adapter.upsert_catalog_item(item)
    assert info.value.category == ErrorCategory.DATA
    assert not mocked.calls


def test_update_inventory_patches_quantity_only(adapter, mocked):
    mocked.patch(
        f"{BASE}/api/catalog-variants/$custom:::$default:::prod-51", json={"data": {}}
    )
    mocked.patch(
        f"{BASE}/api/catalog-variants/$custom:::$default:::prod-99",
        status=404,
        json={"errors": [{"detail": "Not found"}]},
    )
    result = adapter.update_inventory(
        [
            events.InventoryLevel("prod-51", "TP-RED", 3.0),
            events.InventoryLevel("prod-99", "GONE", 1.0),
        ]
    )
    assert result.requests == 2
    assert result.detail["missing"] == ["prod-99"]
    body = body_of(mocked.calls[0])
    assert_spec_valid("PATCH", "/api/catalog-variants/{id}", body)
    assert body == {
        "data": {
            "type": "catalog-variant",
            "id": "$custom:::$default:::prod-51",
            "attributes": {"inventory_quantity": 3.0},
        }
    }
