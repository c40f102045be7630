"""Mailchimp members: exact requests, status never written, tags, merge fields."""

import base64
import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter, merge_tag
from providers.mailchimp.util import subscriber_hash
from sandbox import specs

KEY = "0123456789abcdef0123456789abcdef-us6"
BASE = "https://us6.api.mailchimp.com"
HASH = subscriber_hash("ada@example.com")
MEMBER = f"{BASE}/3.0/lists/L1/members/{HASH}"
TAGS = f"{MEMBER}/tags"
MERGE = f"{BASE}/3.0/lists/L1/merge-fields"


def make_adapter(**extra):
    settings = BackendSettings(
        provider="mailchimp",
        base_url="",
        api_key=KEY,
        mailchimp_list_id="L1",
        mailchimp_store_id="S1",
        extra=extra,
    )
    return MailchimpAdapter(settings)


def assert_spec(method, template, body, query=None):
    assert specs.validate_request("mailchimp", method, template, body, query) == []


def body_of(call):
    return json.loads(call.request.body)


@pytest.fixture(autouse=True)
def _clear_merge_cache():
    mc_adapter._merge_tags_cache.clear()
    yield
    mc_adapter._merge_tags_cache.clear()


@pytest.fixture
def plain_profile(sample_profile):
    """The sample profile without custom properties (no merge-field lookup)."""
    return dataclasses.replace(sample_profile, properties={})


def test_base_url_from_key_suffix_and_missing_suffix():
    assert make_adapter().base_url == BASE
    bad = MailchimpAdapter(
        BackendSettings(provider="mailchimp", base_url="", api_key="x")
    )
    with pytest.raises(EspError) as info:
        bad.base_url  # noqa: B018
    assert info.value.category == ErrorCategory.CONFIGURATION


@responses.activate
def test_upsert_new_member_exact_request(plain_profile, make_consent):
    profile = dataclasses.replace(
        plain_profile, consent=make_consent(events.ConsentStatus.SUBSCRIBED)
    )
    responses.put(MEMBER, json={"id": HASH, "status": "subscribed"})
    responses.get(TAGS, json={"tags": [], "total_items": 0})
    responses.post(TAGS, status=204)

    result = make_adapter().upsert_profile(profile)

    assert result.external_id == HASH
    assert result.requests == 3
    put = responses.calls[0]
    auth = base64.b64encode(f"esp_sync:{KEY}".encode()).decode()
    assert put.request.headers["Authorization"] == f"Basic {auth}"
    body = body_of(put)
    assert body == {
        "email_address": "ada@example.com",
        "status_if_new": "subscribed",
        "merge_fields": {
            "FNAME": "Ada",
            "LNAME": "Lovelace",
            "PHONE": "+44 20 7946 0958",
            "ADDRESS": {
                "addr1": "1 Main St",
                "addr2": "Flat 2",
                "city": "London",
                "state": "Greater London",
                "zip": "N1 9GU",
                "country": "GB",
            },
        },
    }
    assert "status" not in body
    assert_spec("PUT", "/3.0/lists/{list_id}/members/{subscriber_hash}", body)
    get_tags = responses.calls[1].request
    assert get_tags.method == "GET" and "count=1000" in get_tags.url
    tags = body_of(responses.calls[2])
    assert tags == {
        "tags": [
            {"name": "VIP", "status": "active"},
            {"name": "Newsletter", "status": "active"},
        ]
    }
    assert_spec("POST", "/3.0/lists/{list_id}/members/{subscriber_hash}/tags", tags)


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        (None, "transactional"),
        (events.ConsentStatus.NEVER, "transactional"),
        (events.ConsentStatus.UNSUBSCRIBED, "unsubscribed"),
    ],
)
@responses.activate
def test_without_opt_in_new_members_are_not_subscribed(
    plain_profile, make_consent, consent, expected
):
    profile = dataclasses.replace(
        plain_profile,
        tags=(),
        consent=make_consent(consent) if consent else None,
    )
    responses.put(MEMBER, json={"status": "unsubscribed"})
    responses.get(TAGS, json={"tags": []})

    result = make_adapter().upsert_profile(profile)

    body = body_of(responses.calls[0])
    assert body["status_if_new"] == expected
    assert "status" not in body
    assert result.detail["status"] == "unsubscribed"
    assert len(responses.calls) == 2  # no tag POST when nothing changes


@responses.activate
def test_suppressed_consent_is_not_subscribed(plain_profile, make_consent):
    consent = make_consent(events.ConsentStatus.SUBSCRIBED, suppressed=True)
    responses.put(MEMBER, json={})
    responses.get(TAGS, json={"tags": []})
    responses.post(TAGS, status=204)
    make_adapter().upsert_profile(dataclasses.replace(plain_profile, consent=consent))
    assert body_of(responses.calls[0])["status_if_new"] == "unsubscribed"


@responses.activate
def test_incomplete_address_is_omitted(plain_profile):
    profile = dataclasses.replace(
        plain_profile, address=events.Address(street="1 Main St", city="London")
    )
    responses.put(MEMBER, json={})
    responses.get(TAGS, json={"tags": []})
    responses.post(TAGS, status=204)
    make_adapter().upsert_profile(profile)
    assert "ADDRESS" not in body_of(responses.calls[0])["merge_fields"]


@responses.activate
def test_tags_removed_when_absent_and_unchanged_ones_not_resent(plain_profile):
    responses.put(MEMBER, json={})
    responses.get(
        TAGS, json={"tags": [{"id": 1, "name": "vip"}, {"id": 2, "name": "Old"}]}
    )
    responses.post(TAGS, status=204)

    result = make_adapter(managed_tags=["VIP", "old"]).upsert_profile(plain_profile)

    assert body_of(responses.calls[2]) == {
        "tags": [
            {"name": "Newsletter", "status": "active"},
            {"name": "Old", "status": "inactive"},
        ]
    }
    assert result.detail["tags_removed"] == ["Old"]


@responses.activate
@pytest.mark.parametrize("extra", [{}, {"tag_prefix": ""}])
def test_unconfigured_tags_deactivate_nothing(plain_profile, extra):
    """Without managed_tags or tag_prefix, marketers' tags are never removed."""
    responses.put(MEMBER, json={})
    responses.get(
        TAGS,
        json={"tags": [{"name": "VIP"}, {"name": "Newsletter"}, {"name": "Manual"}]},
    )
    result = make_adapter(**extra).upsert_profile(plain_profile)
    assert len(responses.calls) == 2  # nothing to activate, nothing removed
    assert result.detail["tags_removed"] == []


@responses.activate
def test_tag_prefix_limits_what_is_removed(plain_profile):
    responses.put(MEMBER, json={})
    responses.get(TAGS, json={"tags": [{"name": "odoo:B2B"}, {"name": "Manual"}]})
    responses.post(TAGS, status=204)
    make_adapter(tag_prefix="odoo:").upsert_profile(plain_profile)
    assert body_of(responses.calls[2])["tags"] == [
        {"name": "VIP", "status": "active"},
        {"name": "Newsletter", "status": "active"},
        {"name": "odoo:B2B", "status": "inactive"},
    ]


@responses.activate
def test_managed_tags_limit_what_is_removed(plain_profile):
    responses.put(MEMBER, json={})
    responses.get(
        TAGS,
        json={"tags": [{"name": "VIP"}, {"name": "Newsletter"}, {"name": "Manual"}]},
    )
    make_adapter(managed_tags=["VIP", "Newsletter", "B2B"]).upsert_profile(
        plain_profile
    )
    assert len(responses.calls) == 2  # "Manual" is marketing's: left alone


@responses.activate
def test_custom_properties_create_missing_merge_fields(sample_profile):
    responses.get(MERGE, json={"merge_fields": [{"tag": "ORDERS_COU"}]})
    responses.post(MERGE, json={"tag": "LOYALTY_TI"})
    responses.put(MEMBER, json={})
    responses.get(TAGS, json={"tags": [{"name": "VIP"}, {"name": "Newsletter"}]})

    make_adapter().upsert_profile(sample_profile)

    assert [c.request.method for c in responses.calls] == ["GET", "POST", "PUT", "GET"]
    created = body_of(responses.calls[1])
    assert created == {
        "tag": "LOYALTY_TI",
        "name": "Loyalty Tier",
        "type": "text",
        "public": False,
        "required": False,
    }
    assert_spec("POST", "/3.0/lists/{list_id}/merge-fields", created)
    merge = body_of(responses.calls[2])["merge_fields"]
    assert merge["LOYALTY_TI"] == "gold" and merge["ORDERS_COU"] == "3"

    # The known tags are cached: a second upsert does not look them up again.
    make_adapter().upsert_profile(sample_profile)
    assert [c.request.method for c in responses.calls[4:]] == ["PUT", "GET"]


@responses.activate
def test_missing_merge_field_is_configuration_when_creation_disabled(sample_profile):
    responses.get(MERGE, json={"merge_fields": []})
    with pytest.raises(EspError) as info:
        make_adapter(create_merge_fields=False).upsert_profile(sample_profile)
    assert info.value.category == ErrorCategory.CONFIGURATION
    assert info.value.code == "merge_field_missing"
    assert len(responses.calls) == 1  # nothing written


@responses.activate
def test_merge_field_missing_answer_creates_it_and_retries_once(plain_profile):
    adapter = make_adapter()
    problem = {
        "title": "Invalid Resource",
        "status": 400,
        "detail": "Your merge fields were invalid.",
        "errors": [
            {"field": "merge_fields.PHONE", "message": "Merge field does not exist"}
        ],
    }
    responses.put(MEMBER, status=400, json=problem)
    responses.post(MERGE, json={"tag": "PHONE"})
    responses.put(MEMBER, json={})
    responses.get(TAGS, json={"tags": [{"name": "VIP"}, {"name": "Newsletter"}]})

    adapter.upsert_profile(plain_profile)

    methods = [c.request.method for c in responses.calls]
    assert methods == ["PUT", "POST", "PUT", "GET"]
    assert body_of(responses.calls[1])["tag"] == "PHONE"


@responses.activate
def test_merge_field_missing_twice_is_not_retried_forever(plain_profile):
    problem = {
        "title": "Invalid Resource",
        "status": 400,
        "errors": [{"field": "PHONE", "message": "Merge field PHONE does not exist"}],
    }
    responses.put(MEMBER, status=400, json=problem)
    responses.post(MERGE, json={})
    with pytest.raises(EspError) as info:
        make_adapter().upsert_profile(plain_profile)
    assert info.value.code == "merge_field_missing"
    assert [c.request.method for c in responses.calls] == ["PUT", "POST", "PUT"]


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.com", "a b@c.de"])
@responses.activate
def test_invalid_email_is_data_error_before_any_call(plain_profile, email):
    with pytest.raises(EspError) as info:
        make_adapter().upsert_profile(dataclasses.replace(plain_profile, email=email))
    assert info.value.category == ErrorCategory.DATA
    assert info.value.field == "email"
    assert len(responses.calls) == 0


def test_merge_tag_names():
    assert merge_tag("Loyalty Tier") == "LOYALTY_TI"
    assert merge_tag("size") == "SIZE"
    with pytest.raises(EspError):
        merge_tag("***")


def test_colliding_property_tags_are_configuration_errors(plain_profile):
    profile = dataclasses.replace(plain_profile, properties={"fname": "x"})
    with pytest.raises(EspError) as info:
        make_adapter().upsert_profile(profile)
    assert info.value.category == ErrorCategory.CONFIGURATION


@responses.activate
def test_update_consent_never_sends_a_grant(make_consent):
    for status in (events.ConsentStatus.SUBSCRIBED, events.ConsentStatus.NEVER):
        result = make_adapter().update_consent(make_consent(status))
        assert result.skipped_reason == "Mailchimp owns subscription status"
        assert result.requests == 0
    assert len(responses.calls) == 0


@responses.activate
def test_an_odoo_withdrawal_unsubscribes_the_member(make_consent):
    member = f"{BASE}/3.0/lists/L1/members/{subscriber_hash('ada@example.com')}"
    responses.patch(member, json={"status": "unsubscribed"})
    for consent in (
        make_consent(events.ConsentStatus.UNSUBSCRIBED),
        make_consent(events.ConsentStatus.NEVER, suppressed=True),
    ):
        result = make_adapter().update_consent(consent)
        assert result.detail["action"] == "unsubscribed"
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"status": "unsubscribed"}
    ] * 2


@responses.activate
def test_a_withdrawal_for_an_unknown_person_changes_nothing(make_consent):
    member = f"{BASE}/3.0/lists/L1/members/{subscriber_hash('ada@example.com')}"
    responses.patch(
        member,
        status=404,
        json={"title": "Resource Not Found", "status": 404, "detail": "not found"},
    )
    result = make_adapter().update_consent(
        make_consent(events.ConsentStatus.UNSUBSCRIBED)
    )
    assert result.skipped_reason == "Not a member of the audience."


@responses.activate
def test_test_connection_pings_and_checks_audience():
    responses.get(f"{BASE}/3.0/ping", json={"health_status": "Everything's Chimpy!"})
    responses.get(f"{BASE}/3.0/lists/L1", json={"id": "L1", "name": "Shop"})
    text = make_adapter().test_connection()
    assert "Chimpy" in text and "Shop" in text
    assert len(responses.calls) == 2
