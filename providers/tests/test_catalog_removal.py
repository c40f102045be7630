"""Catalogue removal and Dotdigital inventory against the sandbox: the exact
requests each adapter sends, every one accepted by the vendor's spec check
(the sandbox validates), and what the ESP holds afterwards."""

import pytest

from providers import events
from providers.base import BackendSettings
from providers.dotdigital import DotdigitalAdapter
from providers.klaviyo import KlaviyoAdapter
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp import util
from providers.mailchimp.adapter import MailchimpAdapter

DD_USER = "apiuser-sandbox-catalog@apiconnector.com"
MC_KEY = "sandbox-catalog-us1"
KL_KEY = "pk_sandbox_catalog"
KL_ITEM = "$custom:::$default:::T1"


def _item(price=30.0, quantities=(4.0, 0.0)):
    return events.CatalogItem(
        external_id="T1",
        title="Tea Pot",
        description="A pot",
        url="https://shop.example.com/p/t1",
        image_url="https://shop.example.com/web/image/t1.png",
        price=price,
        currency="EUR",
        variants=tuple(
            events.CatalogVariant(
                external_id=f"V{index}",
                sku=f"SKU-{index}",
                title=f"Tea Pot ({index})",
                price=price,
                inventory_quantity=quantity,
            )
            for index, quantity in enumerate(quantities, start=1)
        ),
    )


def _calls(sb, provider, since):
    calls = sb.requests(provider, since=since)
    assert all(call["status"] < 400 or call["status"] == 404 for call in calls), [
        (c["method"], c["path"], c["status"], c.get("response")) for c in calls
    ]
    return [(call["method"], call["path"], call["status"]) for call in calls]


def _last_id(sb):
    calls = sb.requests()
    return calls[-1]["id"] if calls else 0


@pytest.fixture
def klaviyo(sb):
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo", base_url=sb.base_url("klaviyo"), api_key=KL_KEY
        )
    )


@pytest.fixture
def mailchimp(sb):
    mc_adapter._merge_tags_cache.clear()
    adapter = MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url=sb.base_url("mailchimp"),
            api_key=MC_KEY,
            mailchimp_list_id="aud00001",
            mailchimp_store_id="odoo-1",
        )
    )
    adapter.ensure_store("Shop", "EUR")
    return adapter


@pytest.fixture
def dotdigital(sb):
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=sb.base_url("dotdigital"),
            api_user=DD_USER,
            api_secret="sandbox-password",
            dotdigital_address_book_id="1",
        )
    )


def test_klaviyo_removal_deletes_variants_then_item(sb, klaviyo):
    klaviyo.upsert_catalog_item(_item())
    since = _last_id(sb)
    result = klaviyo.remove_catalog_item(events.CatalogRemoval("T1", "Tea Pot"))
    assert result.detail == {"deleted": True}
    assert _calls(sb, "klaviyo", since) == [
        ("GET", "/api/catalog-variants", 200),
        ("DELETE", "/api/catalog-variants/$custom:::$default:::V1", 204),
        ("DELETE", "/api/catalog-variants/$custom:::$default:::V2", 204),
        ("DELETE", f"/api/catalog-items/{KL_ITEM}", 204),
    ]
    query = sb.requests("klaviyo", since=since)[0]["query"]
    assert query["filter"] == [f'equals(item.id,"{KL_ITEM}")']
    state = sb.state("klaviyo")[KL_KEY]
    assert state["catalog_items"] == {}
    assert state["catalog_variants"] == {}
    # Removing what Klaviyo does not have is no error (retries, deleted twice).
    again = klaviyo.remove_catalog_item(events.CatalogRemoval("T1"))
    assert again.detail == {"deleted": False}
    # Selling it again re-creates it whole.
    klaviyo.upsert_catalog_item(_item())
    assert set(sb.state("klaviyo")[KL_KEY]["catalog_variants"]) == {
        "$custom:::$default:::V1",
        "$custom:::$default:::V2",
    }


def test_mailchimp_removal_deletes_the_product(sb, mailchimp):
    mailchimp.upsert_catalog_item(_item())
    since = _last_id(sb)
    result = mailchimp.remove_catalog_item(events.CatalogRemoval("T1"))
    assert result.detail == {"deleted": True}
    path = "/3.0/ecommerce/stores/odoo-1/products/T1"
    assert _calls(sb, "mailchimp", since) == [("DELETE", path, 204)]
    store = sb.state("mailchimp", account=MC_KEY)
    assert "T1" not in str(store.get("stores", store))
    assert mailchimp.remove_catalog_item(events.CatalogRemoval("T1")).detail == {
        "deleted": False
    }


def test_dotdigital_removal_deletes_the_record(sb, dotdigital):
    dotdigital.upsert_catalog_item(_item())
    since = _last_id(sb)
    result = dotdigital.remove_catalog_item(events.CatalogRemoval("T1"))
    assert result.detail == {"deleted": True}
    path = "/insightData/v3/account/Catalog/T1"
    assert _calls(sb, "dotdigital", since) == [("DELETE", path, 204)]
    records = sb.state("dotdigital", account=DD_USER)["records"]
    assert not [key for key in records if "T1" in key]
    assert dotdigital.remove_catalog_item(events.CatalogRemoval("T1")).detail == {
        "deleted": False
    }


def test_dotdigital_inventory_updates_only_the_variants_that_moved(sb, dotdigital):
    dotdigital.upsert_catalog_item(_item(quantities=(4.0, 0.0)))
    since = _last_id(sb)
    levels = [
        events.InventoryLevel("V2", "SKU-2", 7.0, product_external_id="T1"),
        events.InventoryLevel("V9", "SKU-9", 1.0, product_external_id="T1"),
        events.InventoryLevel("W1", "SKU-W", 1.0, product_external_id="T404"),
    ]
    result = dotdigital.update_inventory(levels)
    assert sorted(result.detail["missing"]) == ["V9", "W1"]
    path = "/insightData/v3/account/Catalog/T1"
    assert _calls(sb, "dotdigital", since) == [
        ("GET", path, 200),
        ("PUT", path, 204),
        ("GET", "/insightData/v3/account/Catalog/T404", 404),
    ]
    record = sb.state("dotdigital", account=DD_USER)["records"]["Catalog/0/T1"]
    stock = {v["id"]: v["stock"] for v in record["json"]["variants"]}
    assert stock == {"V1": 4.0, "V2": 7.0}
    assert record["json"]["name"] == "Tea Pot"


def test_mailchimp_leave_audience_archives_and_reports_the_status(
    sb, mailchimp, sample_profile
):
    mailchimp.upsert_profile(sample_profile)
    sb.action(
        "mailchimp",
        "unsubscribe",
        email="ada@example.com",
        list_id="aud00001",
        account=MC_KEY,
    )
    member_hash = util.subscriber_hash("ada@example.com")
    since = _last_id(sb)
    result = mailchimp.leave_audience(member_hash)
    assert result.detail == {
        "archived": True,
        "status": "unsubscribed",
        "email": "ada@example.com",
    }
    path = f"/3.0/lists/aud00001/members/{member_hash}"
    assert _calls(sb, "mailchimp", since) == [("GET", path, 200), ("DELETE", path, 204)]
    members = sb.state("mailchimp", account=MC_KEY)["members"]["aud00001"]
    assert members[member_hash]["status"] == "archived"
    # Archived already, or never a member: nothing more to do.
    since = _last_id(sb)
    assert mailchimp.leave_audience(member_hash).detail["archived"] is False
    # (the sandbox, like a purged member, answers 404 for an archived one)
    assert [c[:2] for c in _calls(sb, "mailchimp", since)] == [("GET", path)]


def test_klaviyo_variant_removal_keeps_the_item_and_other_variants(sb, klaviyo):
    klaviyo.upsert_catalog_item(_item())
    since = _last_id(sb)
    removal = events.CatalogVariantRemoval("V2", product_external_id="T1")
    assert klaviyo.remove_catalog_variant(removal).detail == {"deleted": True}
    assert _calls(sb, "klaviyo", since) == [
        ("DELETE", "/api/catalog-variants/$custom:::$default:::V2", 204)
    ]
    state = sb.state("klaviyo")[KL_KEY]
    assert set(state["catalog_variants"]) == {"$custom:::$default:::V1"}
    assert KL_ITEM in state["catalog_items"]
    assert klaviyo.remove_catalog_variant(removal).detail == {"deleted": False}


def test_mailchimp_variant_removal_keeps_the_product(sb, mailchimp):
    mailchimp.upsert_catalog_item(_item())
    since = _last_id(sb)
    removal = events.CatalogVariantRemoval("V2", product_external_id="T1")
    assert mailchimp.remove_catalog_variant(removal).detail == {"deleted": True}
    path = "/3.0/ecommerce/stores/odoo-1/products/T1/variants/V2"
    assert _calls(sb, "mailchimp", since) == [("DELETE", path, 204)]
    product = sb.state("mailchimp", account=MC_KEY)["stores"]["odoo-1"]["products"]
    assert [v["id"] for v in product["T1"]["variants"]] == ["V1"]


def test_dotdigital_variant_removal_is_left_to_the_record_upsert(sb, dotdigital):
    removal = events.CatalogVariantRemoval("V2", product_external_id="T1")
    result = dotdigital.remove_catalog_variant(removal)
    assert result.requests == 0 and result.skipped_reason
