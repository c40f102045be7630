"""Klaviyo email changes and cleared properties: exact requests and sandbox."""

import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter, const
from sandbox import specs

BASE = "https://a.klaviyo.com"
KEY = "pk_sandbox_klaviyo_identity"


def _adapter(base_url=BASE, key=KEY):
    return KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=base_url, api_key=key, timeout=5)
    )


def _valid(method, template, body):
    violations = specs.validate_request(
        "klaviyo", method, template, body, content_type=const.MEDIA_TYPE
    )
    assert not violations, [str(v) for v in violations]


def _moved(profile, email="ada.new@example.com"):
    return dataclasses.replace(profile, email=email)


# --- exact requests -------------------------------------------------------------
def test_change_email_patches_the_profile_by_id(sample_profile):
    change = events.EmailChange(
        "ada@example.com", _moved(sample_profile), esp_id="01OLD"
    )
    with responses.RequestsMock() as rsps:
        rsps.patch(f"{BASE}/api/profiles/01OLD", json={"data": {"id": "01OLD"}})
        result = _adapter().change_email(change)
        body = json.loads(rsps.calls[0].request.body)
    _valid("PATCH", "/api/profiles/{id}", body)
    assert body["data"]["id"] == "01OLD"
    assert body["data"]["attributes"]["email"] == "ada.new@example.com"
    assert result.external_id == "01OLD"
    assert result.detail["moved"] is True
    assert result.requests == 1


def test_change_email_finds_the_profile_by_old_email(sample_profile):
    change = events.EmailChange("Ada@Example.com", _moved(sample_profile))
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/profiles", json={"data": [{"id": "01OLD"}]})
        rsps.patch(f"{BASE}/api/profiles/01OLD", json={"data": {"id": "01OLD"}})
        result = _adapter().change_email(change)
        query = rsps.calls[0].request.url
    assert "equals%28email%2C%22ada%40example.com%22%29" in query
    assert result.external_id == "01OLD"


def test_change_email_merges_the_duplicate_into_the_old_profile(sample_profile):
    change = events.EmailChange(
        "ada@example.com", _moved(sample_profile), esp_id="01OLD"
    )
    duplicate = {
        "errors": [
            {
                "status": 409,
                "code": "duplicate_profile",
                "detail": "A profile already exists with one of these identifiers.",
                "meta": {"duplicate_profile_id": "01NEW"},
            }
        ]
    }
    with responses.RequestsMock() as rsps:
        rsps.patch(f"{BASE}/api/profiles/01OLD", json=duplicate, status=409)
        rsps.get(f"{BASE}/api/profiles", json={"data": [{"id": "01NEW"}]})
        rsps.post(f"{BASE}/api/profile-merge", json={"data": {"id": "01OLD"}})
        rsps.patch(f"{BASE}/api/profiles/01OLD", json={"data": {"id": "01OLD"}})
        result = _adapter().change_email(change)
        merge = json.loads(rsps.calls[2].request.body)
    _valid("POST", "/api/profile-merge", merge)
    assert merge["data"]["id"] == "01OLD"
    assert merge["data"]["relationships"]["profiles"]["data"] == [
        {"type": "profile", "id": "01NEW"}
    ]
    assert result.external_id == "01OLD"
    assert result.detail["merged"] == "01NEW"


def test_stale_profile_id_falls_back_to_the_old_email(sample_profile):
    change = events.EmailChange("ada@example.com", _moved(sample_profile), "01GONE")
    missing = {"errors": [{"status": 404, "detail": "Not found"}]}
    with responses.RequestsMock() as rsps:
        rsps.patch(f"{BASE}/api/profiles/01GONE", json=missing, status=404)
        rsps.get(f"{BASE}/api/profiles", json={"data": [{"id": "01OLD"}]})
        rsps.patch(f"{BASE}/api/profiles/01OLD", json={"data": {"id": "01OLD"}})
        result = _adapter().change_email(change)
    assert result.external_id == "01OLD"
    assert result.requests == 3


def test_change_email_of_an_unknown_person_is_an_upsert(sample_profile):
    change = events.EmailChange("gone@example.com", _moved(sample_profile))
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/profiles", json={"data": []})
        rsps.get(f"{BASE}/api/profiles", json={"data": []})
        rsps.post(
            f"{BASE}/api/profile-import", json={"data": {"id": "01X"}}, status=201
        )
        result = _adapter().change_email(change)
    assert result.external_id == "01X"
    assert result.detail["moved"] is False
    assert result.requests == 3


def test_change_email_without_new_address_is_a_data_error(sample_profile):
    change = events.EmailChange("ada@example.com", _moved(sample_profile, ""))
    with pytest.raises(EspError) as caught:
        _adapter().change_email(change)
    assert caught.value.category == ErrorCategory.DATA


def test_cleared_properties_are_unset(sample_profile):
    profile = dataclasses.replace(
        sample_profile, properties={"Loyalty Tier": "gold", "Total Spend": None}
    )
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/api/profile-import", json={"data": {"id": "01P"}})
        _adapter().upsert_profile(profile)
        body = json.loads(rsps.calls[0].request.body)
    _valid("POST", "/api/profile-import", body)
    assert "Total Spend" not in body["data"]["attributes"]["properties"]
    assert body["data"]["meta"] == {"patch_properties": {"unset": ["Total Spend"]}}


# --- against the sandbox ----------------------------------------------------------
def _profiles(sb):
    return list(sb.state("klaviyo")[KEY]["profiles"].values())


def _by_email(sb):
    return {p["email"]: p for p in _profiles(sb)}


def test_sandbox_move_keeps_id_history_and_consent(
    sb, sample_profile, make_order_event
):
    adapter = _adapter(sb.base_url("klaviyo"))
    old_id = adapter.upsert_profile(sample_profile).external_id
    adapter.send_order_event(make_order_event())
    adapter.update_consent(
        events.Consent(
            "ada@example.com", "res.partner-7", events.ConsentStatus.UNSUBSCRIBED
        )
    )
    result = adapter.change_email(
        events.EmailChange("ada@example.com", _moved(sample_profile))
    )
    profiles = _by_email(sb)
    assert list(profiles) == ["ada.new@example.com"]
    moved = profiles["ada.new@example.com"]
    assert result.external_id == moved["id"] == old_id
    events_ = sb.state("klaviyo")[KEY]["events"]
    assert events_ and all(e["profile_id"] == old_id for e in events_)
    assert moved["subscriptions"]["email"]["consent"] != "SUBSCRIBED"


def test_sandbox_move_onto_an_existing_profile_merges(sb, sample_profile):
    adapter = _adapter(sb.base_url("klaviyo"))
    old_id = adapter.upsert_profile(sample_profile).external_id
    other = dataclasses.replace(
        _moved(sample_profile), external_id="", phone="", properties={"Source": "web"}
    )
    adapter.upsert_profile(other)
    assert len(_profiles(sb)) == 2
    result = adapter.change_email(
        events.EmailChange("ada@example.com", _moved(sample_profile), esp_id=old_id)
    )
    profiles = _profiles(sb)
    assert len(profiles) == 1
    assert profiles[0]["id"] == result.external_id == old_id
    assert profiles[0]["email"] == "ada.new@example.com"
    assert profiles[0]["properties"]["Source"] == "web"


def test_sandbox_patch_onto_a_taken_address_is_409(sb, sample_profile):
    adapter = _adapter(sb.base_url("klaviyo"))
    old_id = adapter.upsert_profile(sample_profile).external_id
    adapter.upsert_profile(
        dataclasses.replace(_moved(sample_profile), external_id="", phone="")
    )
    body = {
        "data": {
            "type": "profile",
            "id": old_id,
            "attributes": {"email": "ada.new@example.com"},
        }
    }
    with pytest.raises(EspError) as caught:
        adapter._request("PATCH", f"/api/profiles/{old_id}", json=body)
    assert caught.value.status == 409
    assert caught.value.code == "duplicate_profile"


def test_sandbox_cleared_property_ends_absent(sb, sample_profile):
    adapter = _adapter(sb.base_url("klaviyo"))
    adapter.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": 120.0})
    )
    assert _by_email(sb)["ada@example.com"]["properties"]["Total Spend"] == 120.0
    adapter.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": None})
    )
    assert "Total Spend" not in _by_email(sb)["ada@example.com"]["properties"]


def test_sandbox_bulk_import_clears_properties_too(sb, sample_profile):
    adapter = _adapter(sb.base_url("klaviyo"))
    adapter.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": 120.0})
    )
    job = adapter.bulk_import_profiles(
        [dataclasses.replace(sample_profile, properties={"Total Spend": None})]
    )
    assert adapter.get_bulk_job(job).status == "complete"
    assert "Total Spend" not in _by_email(sb)["ada@example.com"]["properties"]
