"""Dotdigital email changes and cleared data fields: requests and sandbox."""

import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter
from sandbox import specs

USER = "apiuser-1a2b3c@apiconnector.com"
API = "https://r2-api.dotdigital.com"
BY_ID = f"{API}/contacts/v3/contactId/501"
BY_OLD = f"{API}/contacts/v3/email/ada@example.com"
BY_NEW = f"{API}/contacts/v3/email/ada.new@example.com"
FIELDS = f"{API}/v2/data-fields"
KNOWN = [{"name": n, "type": "String"} for n in ("FIRSTNAME", "TOTAL_SPEND")]
NOT_FOUND = {
    "errorCode": "contacts:contactNotFound",
    "description": "The following contacts could not be found",
}


@pytest.fixture(autouse=True)
def _clear_fields_cache():
    dd_adapter._fields_cache.clear()
    yield
    dd_adapter._fields_cache.clear()


def _adapter(base_url="", user=USER, secret="S3cret-Passw0rd!", **extra):
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=base_url,
            api_user=user,
            api_secret=secret,
            dotdigital_address_book_id="1",
            extra=extra,
        )
    )


def _change(profile, esp_id="", **values):
    moved = dataclasses.replace(
        profile, email="ada.new@example.com", properties={}, **values
    )
    return events.EmailChange("ada@example.com", moved, esp_id=esp_id)


# --- exact requests -------------------------------------------------------------
def test_contact_gets_the_new_email_identifier(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(BY_ID, json={"contactId": 501})
        rsps.patch(BY_ID, json={"contactId": 501, "status": "unsubscribed"})
        result = _adapter(api_endpoint=API).change_email(
            _change(sample_profile, esp_id="501")
        )
        body = json.loads(rsps.calls[1].request.body)
    template = "/contacts/v3/{identifier}/{value}"
    assert not [
        v
        for v in specs.validate_request("dotdigital_contacts", "PATCH", template, body)
        if "resubscribeOptions" not in v.message
    ]
    assert body["identifiers"] == {"email": "ada.new@example.com"}
    assert "channelProperties" not in body  # status kept as it is
    assert result.external_id == "501"
    assert result.detail == {"moved": True, "status": "unsubscribed"}


def test_stale_contact_id_falls_back_to_the_old_email(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(BY_ID, json=NOT_FOUND, status=404)
        rsps.get(BY_OLD, json={"contactId": 502})
        rsps.patch(BY_OLD, json={"contactId": 502, "status": "subscribed"})
        result = _adapter(api_endpoint=API).change_email(
            _change(sample_profile, esp_id="501")
        )
    assert result.external_id == "502"
    assert result.requests == 3


def test_contact_found_by_old_email(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(BY_OLD, json={"contactId": 501})
        rsps.patch(BY_OLD, json={"contactId": 501, "status": "subscribed"})
        result = _adapter(api_endpoint=API).change_email(_change(sample_profile))
    assert result.external_id == "501"
    assert result.requests == 2


def test_unknown_old_contact_is_a_plain_upsert(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(BY_OLD, json=NOT_FOUND, status=404)
        rsps.get(BY_NEW, json=NOT_FOUND, status=404)
        rsps.patch(BY_NEW, json={"contactId": 9, "status": "unsubscribed"})
        result = _adapter(api_endpoint=API).change_email(_change(sample_profile))
    assert result.external_id == "9"
    assert result.detail["moved"] is False
    assert result.requests == 3


def test_taken_new_address_is_a_data_error(sample_profile):
    taken = {"errorCode": "contacts:idAlreadyExists", "description": "exists"}
    with responses.RequestsMock() as rsps:
        rsps.get(BY_OLD, json={"contactId": 501})
        rsps.patch(BY_OLD, json=taken, status=409)
        with pytest.raises(EspError) as caught:
            _adapter(api_endpoint=API).change_email(_change(sample_profile))
    assert caught.value.category == ErrorCategory.DATA
    assert "ada.new@example.com" in caught.value.message


def test_cleared_property_is_sent_empty(sample_profile):
    profile = dataclasses.replace(sample_profile, properties={"Total Spend": None})
    with responses.RequestsMock() as rsps:
        rsps.get(BY_OLD, json={"contactId": 501})
        rsps.get(FIELDS, json=KNOWN)
        rsps.patch(BY_OLD, json={"contactId": 501})
        _adapter(api_endpoint=API).upsert_profile(profile)
        body = json.loads(rsps.calls[2].request.body)
    assert body["dataFields"]["TOTAL_SPEND"] == ""


# --- against the sandbox ----------------------------------------------------------
SB_USER = "apiuser-sandbox-identity@apiconnector.com"


@pytest.fixture
def dd(sb):
    return _adapter(sb.url + "/dotdigital", SB_USER, "sandbox-password")


def _contacts(sb):
    state = sb.state("dotdigital", account=SB_USER)
    return {c["identifiers"]["email"]: c for c in state["contacts"].values()}


def test_sandbox_contact_moves_with_its_id_and_status(sb, dd, sample_profile):
    contact_id = dd.upsert_profile(sample_profile).external_id
    before = _contacts(sb)["ada@example.com"]["channelProperties"]["email"]["status"]
    subscribed = events.Consent(
        "ada.new@example.com", "p7", events.ConsentStatus.SUBSCRIBED
    )
    result = dd.change_email(
        _change(sample_profile, esp_id=contact_id, consent=subscribed)
    )
    contacts = _contacts(sb)
    assert list(contacts) == ["ada.new@example.com"]
    moved = contacts["ada.new@example.com"]
    assert str(moved["contactId"]) == result.external_id == contact_id
    assert moved["channelProperties"]["email"]["status"] == before


def test_sandbox_taken_address_keeps_both_and_says_so(sb, dd, sample_profile):
    dd.upsert_profile(sample_profile)
    dd.upsert_profile(dataclasses.replace(sample_profile, email="ada.new@example.com"))
    with pytest.raises(EspError) as caught:
        dd.change_email(_change(sample_profile))
    assert caught.value.category == ErrorCategory.DATA
    assert caught.value.status == 409


def test_sandbox_cleared_property_ends_empty(sb, dd, sample_profile):
    dd.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": 120.0})
    )
    assert _contacts(sb)["ada@example.com"]["dataFields"]["TOTAL_SPEND"] == "120.0"
    dd.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": None})
    )
    assert _contacts(sb)["ada@example.com"]["dataFields"]["TOTAL_SPEND"] in ("", None)
