"""Mailchimp email changes and cleared merge fields: requests and sandbox."""

import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter
from providers.mailchimp.identity import carried_status
from providers.mailchimp.util import subscriber_hash
from sandbox import specs

KEY = "0123456789abcdef0123456789abcdef-us6"
BASE = "https://us6.api.mailchimp.com"
OLD = subscriber_hash("ada@example.com")
NEW = subscriber_hash("ada.new@example.com")
MEMBERS = f"{BASE}/3.0/lists/L1/members"
S = events.ConsentStatus


def _adapter(base_url="", key=KEY, list_id="L1"):
    return MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url=base_url,
            api_key=key,
            mailchimp_list_id=list_id,
            extra={"sync_tags": False},
        )
    )


@pytest.fixture(autouse=True)
def _clear_merge_cache():
    mc_adapter._merge_tags_cache.clear()
    yield
    mc_adapter._merge_tags_cache.clear()


def _change(profile, old="ada@example.com", **values):
    moved = dataclasses.replace(
        profile, email="ada.new@example.com", properties={}, **values
    )
    return events.EmailChange(old, moved)


def _spec_ok(method, body):
    template = "/3.0/lists/{list_id}/members/{subscriber_hash}"
    assert specs.validate_request("mailchimp", method, template, body) == []


# --- exact requests -------------------------------------------------------------
def test_subscribed_member_is_patched_to_the_new_address(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{MEMBERS}/{OLD}", json={"id": OLD, "status": "subscribed"})
        rsps.patch(f"{MEMBERS}/{OLD}", json={"id": NEW, "status": "subscribed"})
        rsps.put(f"{MEMBERS}/{NEW}", json={"id": NEW, "status": "subscribed"})
        result = _adapter().change_email(_change(sample_profile))
        patch = json.loads(rsps.calls[1].request.body)
        put = json.loads(rsps.calls[2].request.body)
    _spec_ok("PATCH", patch)
    assert patch == {"email_address": "ada.new@example.com"}
    assert put["email_address"] == "ada.new@example.com"
    assert result.external_id == NEW
    assert result.detail == {"moved": True, "status": "subscribed"}
    assert result.requests == 3


def test_unsubscribed_member_is_archived_and_recreated_unsubscribed(sample_profile):
    subscribed = events.Consent("ada.new@example.com", "p7", S.SUBSCRIBED)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{MEMBERS}/{OLD}", json={"id": OLD, "status": "unsubscribed"})
        rsps.delete(f"{MEMBERS}/{OLD}", status=204)
        rsps.put(f"{MEMBERS}/{NEW}", json={"id": NEW, "status": "unsubscribed"})
        result = _adapter().change_email(_change(sample_profile, consent=subscribed))
        put = json.loads(rsps.calls[2].request.body)
    _spec_ok("PUT", put)
    assert put["status_if_new"] == "unsubscribed"
    assert result.detail["archived"] == OLD
    assert result.external_id == NEW


def test_refused_patch_falls_back_to_archive(sample_profile):
    exists = {"title": "Member Exists", "status": 400, "detail": "already a member"}
    with responses.RequestsMock() as rsps:
        rsps.get(f"{MEMBERS}/{OLD}", json={"id": OLD, "status": "transactional"})
        rsps.patch(f"{MEMBERS}/{OLD}", json=exists, status=400)
        rsps.delete(f"{MEMBERS}/{OLD}", status=204)
        rsps.put(f"{MEMBERS}/{NEW}", json={"id": NEW, "status": "subscribed"})
        result = _adapter().change_email(_change(sample_profile))
        put = json.loads(rsps.calls[3].request.body)
    assert put["status_if_new"] == "transactional"
    assert result.detail["status"] == "subscribed"


def test_unknown_old_address_is_a_plain_upsert(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{MEMBERS}/{OLD}", json={"status": 404}, status=404)
        rsps.put(f"{MEMBERS}/{NEW}", json={"id": NEW, "status": "transactional"})
        result = _adapter().change_email(_change(sample_profile))
    assert result.detail["moved"] is False
    assert result.external_id == NEW
    assert result.requests == 2


def test_server_errors_are_raised(sample_profile):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{MEMBERS}/{OLD}", json={"id": OLD, "status": "subscribed"})
        rsps.patch(f"{MEMBERS}/{OLD}", json={"title": "Boom"}, status=503)
        with pytest.raises(EspError) as caught:
            _adapter().change_email(_change(sample_profile))
    assert caught.value.category == ErrorCategory.TRANSIENT


@pytest.mark.parametrize(
    ("old", "consent", "expected"),
    [
        ("subscribed", None, "subscribed"),
        ("subscribed", S.NEVER, "transactional"),
        ("subscribed", S.UNSUBSCRIBED, "unsubscribed"),
        ("unsubscribed", S.SUBSCRIBED, "unsubscribed"),
        ("cleaned", S.SUBSCRIBED, "transactional"),
        ("pending", S.SUBSCRIBED, "pending"),
    ],
)
def test_carried_status_never_upgrades(old, consent, expected):
    value = consent and events.Consent("a@example.com", "p", consent)
    assert carried_status(old, value) == expected


def test_cleared_property_is_sent_empty(sample_profile):
    profile = dataclasses.replace(sample_profile, properties={"Total Spend": None})
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{BASE}/3.0/lists/L1/merge-fields",
            json={"merge_fields": [{"tag": "TOTAL_SPEN"}]},
        )
        rsps.put(f"{MEMBERS}/{OLD}", json={"id": OLD, "status": "subscribed"})
        _adapter().upsert_profile(profile)
        put = json.loads(rsps.calls[1].request.body)
    assert put["merge_fields"]["TOTAL_SPEN"] == ""


# --- against the sandbox ----------------------------------------------------------
SB_KEY = "sandbox-identity-us1"
LIST = "aud00001"


@pytest.fixture
def mc(sb):
    return _adapter(sb.url + "/mailchimp", SB_KEY, LIST)


def _members(sb):
    state = sb.state("mailchimp", account=SB_KEY)
    return {m["email_address"]: m for m in state["members"][LIST].values()}


def test_sandbox_subscribed_member_moves_with_its_id_and_status(
    sb, mc, sample_profile, make_consent
):
    mc.upsert_profile(dataclasses.replace(sample_profile, consent=make_consent()))
    result = mc.change_email(_change(sample_profile))
    members = _members(sb)
    assert list(members) == ["ada.new@example.com"]
    assert members["ada.new@example.com"]["status"] == "subscribed"
    assert result.detail["moved"] is True


def test_sandbox_refuses_moving_an_unsubscribed_member(sb, mc, sample_profile):
    mc.upsert_profile(sample_profile)
    sb.action("mailchimp", "unsubscribe", email="ada@example.com", account=SB_KEY)
    with pytest.raises(EspError) as caught:
        mc._request(
            "PATCH",
            f"/3.0/lists/{LIST}/members/{OLD}",
            json={"email_address": "ada.new@example.com"},
        )
    assert caught.value.status == 400


def test_sandbox_unsubscribed_member_stays_unsubscribed(
    sb, mc, sample_profile, make_consent
):
    mc.upsert_profile(sample_profile)
    sb.action("mailchimp", "unsubscribe", email="ada@example.com", account=SB_KEY)
    change = _change(sample_profile, consent=make_consent())
    result = mc.change_email(change)
    members = _members(sb)
    assert members["ada@example.com"]["status"] == "archived"
    assert members["ada.new@example.com"]["status"] == "unsubscribed"
    assert [e for e, m in members.items() if m["status"] != "archived"] == [
        "ada.new@example.com"
    ]
    assert result.detail["archived"] == OLD


def test_sandbox_cleared_property_ends_empty(sb, mc, sample_profile):
    mc.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": "120.0"})
    )
    assert _members(sb)["ada@example.com"]["merge_fields"]["TOTAL_SPEN"] == "120.0"
    mc.upsert_profile(
        dataclasses.replace(sample_profile, properties={"Total Spend": None})
    )
    assert _members(sb)["ada@example.com"]["merge_fields"]["TOTAL_SPEN"] == ""


@responses.activate
@pytest.mark.parametrize(
    "held, consent, expected",
    [
        ("unsubscribed", S.SUBSCRIBED, "unsubscribed"),  # never upgraded
        ("subscribed", S.SUBSCRIBED, "subscribed"),  # Mailchimp's opt-in kept
        ("subscribed", S.UNSUBSCRIBED, "unsubscribed"),  # Odoo's opt-out wins
        ("cleaned", S.SUBSCRIBED, "transactional"),
    ],
)
def test_audience_move_writes_the_new_then_archives_the_old(held, consent, expected):
    email = "ada@example.com"
    profile = events.Profile(
        email=email,
        external_id="res.partner-1",
        consent=events.Consent(email=email, external_id="1", status=consent),
        moved_from="L0",
    )
    old = f"{BASE}/3.0/lists/L0/members/{OLD}"
    responses.get(old, json={"status": held})
    responses.get(f"{MEMBERS[: -len('/members')]}/merge-fields", json={})
    responses.put(f"{MEMBERS}/{OLD}", json={"status": expected})
    responses.delete(old, status=204)
    result = _adapter().upsert_profile(profile)
    calls = [(c.request.method, c.request.url.split("?")[0]) for c in responses.calls]
    assert calls[0] == ("GET", old)
    assert ("PUT", f"{MEMBERS}/{OLD}") in calls
    assert calls[-1] == ("DELETE", old), "archived last, after the new write"
    put = next(c for c in responses.calls if c.request.method == "PUT")
    assert json.loads(put.request.body)["status_if_new"] == expected
    assert result.detail["moved_from"] == "L0"


@responses.activate
def test_audience_move_retried_after_the_archive_is_a_plain_write():
    email = "ada@example.com"
    profile = events.Profile(email=email, external_id="res.partner-1", moved_from="L0")
    old = f"{BASE}/3.0/lists/L0/members/{OLD}"
    responses.get(old, json={"status": "archived"})
    responses.put(f"{MEMBERS}/{OLD}", json={"status": "transactional"})
    _adapter().upsert_profile(profile)
    assert [c.request.method for c in responses.calls] == ["GET", "PUT"]
