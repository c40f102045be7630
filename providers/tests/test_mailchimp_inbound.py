"""Mailchimp -> Odoo: consent polling, list webhooks, webhook registration."""

import datetime
import json
import urllib.parse

import pytest
import responses

from providers.base import BackendSettings, ErrorCategory, EspError
from providers.mailchimp.adapter import MailchimpAdapter
from sandbox import specs

MEMBERS = "https://us6.api.mailchimp.com/3.0/lists/L1/members"
SINCE = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)


def adapter():
    return MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url="",
            api_key="0123456789abcdef-us6",
            mailchimp_list_id="L1",
        )
    )


def member(email, status, changed="2026-03-02T08:00:00+00:00"):
    return {"email_address": email, "status": status, "last_changed": changed}


@responses.activate
def test_fetch_consent_updates_pages_through_both_statuses():
    responses.get(
        MEMBERS,
        match=[
            responses.matchers.query_param_matcher(
                {"status": "unsubscribed"}, strict_match=False
            )
        ],
        json={"members": [member("A@x.com", "unsubscribed")], "total_items": 2},
    )
    responses.get(
        MEMBERS,
        match=[
            responses.matchers.query_param_matcher(
                {"status": "unsubscribed", "offset": "1"}, strict_match=False
            )
        ],
        json={"members": [member("b@x.com", "unsubscribed")], "total_items": 2},
    )
    responses.get(
        MEMBERS,
        match=[
            responses.matchers.query_param_matcher(
                {"status": "cleaned"}, strict_match=False
            )
        ],
        json={"members": [member("c@x.com", "cleaned")], "total_items": 1},
    )

    updates = adapter().fetch_consent_updates(SINCE)

    assert [(u.email, u.status) for u in updates] == [
        ("a@x.com", "unsubscribed"),
        ("b@x.com", "unsubscribed"),
        ("c@x.com", "cleaned"),
    ]
    assert updates[0].occurred_at == datetime.datetime(
        2026, 3, 2, 8, tzinfo=datetime.timezone.utc
    )
    first = urllib.parse.parse_qs(
        urllib.parse.urlparse(responses.calls[0].request.url).query
    )
    assert first["since_last_changed"] == ["2026-03-01T00:00:00+00:00"]
    assert first["offset"] == ["0"] and first["count"] == ["1000"]
    query = {k: v for k, v in first.items() if k != "fields"}
    assert (
        specs.validate_request(
            "mailchimp", "GET", "/3.0/lists/{list_id}/members", query=query
        )
        == []
    )


def form(**values):
    return urllib.parse.urlencode(values).encode()


def test_parse_webhook_unsubscribe_and_cleaned():
    body = form(
        type="unsubscribe",
        fired_at="2026-03-02 09:10:11",
        **{
            "data[email]": "Ada@Example.com",
            "data[list_id]": "L1",
            "data[reason]": "manual",
            "data[action]": "unsub",
        },
    )
    (update,) = adapter().parse_webhook({}, body)
    assert (update.email, update.status, update.reason) == (
        "ada@example.com",
        "unsubscribed",
        "manual",
    )
    assert update.occurred_at == datetime.datetime(
        2026, 3, 2, 9, 10, 11, tzinfo=datetime.timezone.utc
    )
    assert update.provider_ref == "L1"
    cleaned = form(type="cleaned", **{"data[email]": "c@x.com", "data[list_id]": "L1"})
    assert adapter().parse_webhook({}, cleaned.decode())[0].status == "cleaned"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'"x"',
        b'{"data": 5}',
        b"type=unsubscribe&data[list_id]=L1",
        b"type=unsubscribe&data[email]=\xff\xfe",
        {"data[email]": "a@x.com"},
    ],
)
def test_parse_webhook_malformed_bodies_are_data_errors(body):
    with pytest.raises(EspError) as info:
        adapter().parse_webhook({}, body)
    assert info.value.category == ErrorCategory.DATA


def test_parse_webhook_ignores_other_types_and_lists():
    assert (
        adapter().parse_webhook({}, form(type="profile", **{"data[email]": "a@x.com"}))
        == []
    )
    other_list = form(
        type="unsubscribe", **{"data[email]": "a@x.com", "data[list_id]": "L9"}
    )
    assert adapter().parse_webhook({}, other_list) == []


@responses.activate
def test_register_webhook_excludes_api_source():
    responses.post(
        "https://us6.api.mailchimp.com/3.0/lists/L1/webhooks", json={"id": "w1"}
    )
    result = adapter().register_webhook(
        "https://odoo.example.com/esp_sync/mailchimp/tok"
    )
    assert result.external_id == "w1"
    body = json.loads(responses.calls[0].request.body)
    assert body["sources"] == {"user": True, "admin": True, "api": False}
    assert body["events"]["unsubscribe"] and body["events"]["cleaned"]
    assert body["events"]["profile"] and body["events"]["upemail"]
    assert not body["events"]["campaign"]
    assert (
        specs.validate_request(
            "mailchimp", "POST", "/3.0/lists/{list_id}/webhooks", body
        )
        == []
    )
