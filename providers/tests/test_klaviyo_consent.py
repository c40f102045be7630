"""Consent from Klaviyo to Odoo: polling /api/profiles and signed webhooks."""

import datetime
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from providers.base import BackendSettings, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter
from sandbox import specs

BASE = "https://a.klaviyo.com"
SECRET = "whsec-0123456789abcdef"
SINCE = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def adapter():
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo",
            base_url=BASE,
            api_key="pk_test_consent",
            webhook_secret=SECRET,
            klaviyo_list_id="LST123",
        )
    )


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def _profile(email, suppression=(), list_suppressions=()):
    return {
        "type": "profile",
        "id": email.split("@")[0],
        "attributes": {
            "email": email,
            "subscriptions": {
                "email": {
                    "marketing": {
                        "can_receive_email_marketing": False,
                        "consent": "UNSUBSCRIBED",
                        "suppression": list(suppression),
                        "list_suppressions": list(list_suppressions),
                    }
                }
            },
        },
    }


def test_fetch_consent_updates(adapter, mocked):
    mocked.get(
        f"{BASE}/api/profiles",
        json={
            "data": [
                _profile(
                    "Unsub@Example.com",
                    [{"reason": "UNSUBSCRIBE", "timestamp": "2026-03-01T13:00:00Z"}],
                ),
                _profile(
                    "old@example.com",
                    [{"reason": "HARD_BOUNCE", "timestamp": "2026-02-01T13:00:00Z"}],
                ),
            ],
            "links": {"next": f"{BASE}/api/profiles?page%5Bcursor%5D=c2"},
        },
    )
    mocked.get(
        f"{BASE}/api/profiles",
        json={
            "data": [
                _profile(
                    "spam@example.com",
                    [{"reason": "SPAM_COMPLAINT", "timestamp": "2026-03-02T09:00:00Z"}],
                ),
                _profile(
                    "bounce@example.com",
                    [{"reason": "HARD_BOUNCE", "timestamp": "2026-03-01T12:30:00Z"}],
                ),
            ],
            "links": {"next": None},
        },
    )
    mocked.get(
        f"{BASE}/api/profiles",
        json={
            "data": [
                _profile(
                    "list@example.com",
                    list_suppressions=[
                        {
                            "list_id": "LST123",
                            "reason": "USER_SUPPRESSED",
                            "timestamp": "2026-03-01T14:00:00Z",
                        },
                        {
                            "list_id": "OTHER",
                            "reason": "USER_SUPPRESSED",
                            "timestamp": "2026-03-01T14:00:00Z",
                        },
                    ],
                )
            ],
        },
    )
    updates = adapter.fetch_consent_updates(SINCE)
    summary = [(u.email, u.status, u.reason, u.provider_ref) for u in updates]
    assert summary == [
        ("bounce@example.com", "cleaned", "HARD_BOUNCE", ""),
        ("unsub@example.com", "unsubscribed", "UNSUBSCRIBE", ""),
        ("list@example.com", "unsubscribed", "USER_SUPPRESSED", "LST123"),
        ("spam@example.com", "suppressed", "SPAM_COMPLAINT", ""),
    ]
    assert updates[0].occurred_at == datetime.datetime(
        2026, 3, 1, 12, 30, tzinfo=datetime.timezone.utc
    )
    first = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert first == {
        "filter": [
            "greater-than(subscriptions.email.marketing.suppression.timestamp,"
            "2026-03-01T12:00:00Z)"
        ],
        "additional-fields[profile]": ["subscriptions"],
        "page[size]": ["100"],
    }
    assert not specs.validate_request("klaviyo", "GET", "/api/profiles", query=first)
    assert parse_qs(urlsplit(mocked.calls[1].request.url).query) == {
        "page[cursor]": ["c2"]
    }
    third = parse_qs(urlsplit(mocked.calls[2].request.url).query)
    assert "list_suppressions.timestamp" in third["filter"][0]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed(body, timestamp=None, secret=SECRET, raw=None):
    timestamp = _now() if timestamp is None else timestamp
    raw = json.dumps(body).encode() if raw is None else raw
    signature = hmac.new(
        secret.encode(), raw + timestamp.encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Klaviyo-Signature": signature,
        "Klaviyo-Timestamp": timestamp,
        "Klaviyo-Webhook-Id": "WH1",
    }
    return headers, raw


def _item(topic, email, properties=None, event_id="EV1"):
    return {
        "topic": topic,
        "external_id": event_id,
        "payload": {
            "data": {
                "type": "event",
                "id": event_id,
                "attributes": {
                    "datetime": "2026-03-01T11:59:00+00:00",
                    "event_properties": properties or {},
                },
            },
            "included": [
                {"type": "profile", "id": "P1", "attributes": {"email": email}}
            ],
        },
    }


def _webhook(*items):
    return {
        "data": list(items),
        "meta": {
            "klaviyo_account_id": "ACC",
            "klaviyo_webhook_id": "WH1",
            "timestamp": "2026-03-01T12:00:00Z",
        },
    }


def test_parse_webhook(adapter):
    body = _webhook(
        _item("event:klaviyo.unsubscribed_from_email_marketing", "A@example.com"),
        _item("event:klaviyo.marked_email_as_spam", "b@example.com", event_id="E2"),
        _item(
            "event:klaviyo.bounced_email",
            "c@example.com",
            {"Bounce Type": "Hard"},
            event_id="E3",
        ),
        _item(
            "event:klaviyo.bounced_email",
            "soft@example.com",
            {"Bounce Type": "Soft"},
            event_id="E4",
        ),
        _item("event:klaviyo.opened_email", "d@example.com", event_id="E5"),
    )
    headers, raw = _signed(body)
    updates = adapter.parse_webhook(headers, raw)
    assert [(u.email, u.status, u.provider_ref) for u in updates] == [
        ("a@example.com", "unsubscribed", "EV1"),
        ("b@example.com", "suppressed", "E2"),
        ("c@example.com", "cleaned", "E3"),
    ]
    assert updates[0].occurred_at == datetime.datetime(
        2026, 3, 1, 11, 59, tzinfo=datetime.timezone.utc
    )
    assert updates[0].reason == "event:klaviyo.unsubscribed_from_email_marketing"


def test_parse_webhook_headers_any_case_and_str_body(adapter):
    body = _webhook(_item("event:klaviyo.unsubscribed", "x@example.com"))
    headers, raw = _signed(body)
    headers = {k.lower(): v for k, v in headers.items()}
    updates = adapter.parse_webhook(headers, raw.decode())
    assert [u.email for u in updates] == ["x@example.com"]


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "timestamp", "missing", "secret"],
)
def test_parse_webhook_rejects_bad_signatures(adapter, tamper):
    body = _webhook(_item("event:klaviyo.unsubscribed", "x@example.com"))
    headers, raw = _signed(body, secret="wrong" if tamper == "secret" else SECRET)
    if tamper == "body":
        raw = raw.replace(b"x@example.com", b"y@example.com")
    elif tamper == "signature":
        headers["Klaviyo-Signature"] = "0" * 64
    elif tamper == "timestamp":
        headers["Klaviyo-Timestamp"] = "2026-03-01T12:00:01Z"  # not what was signed
    elif tamper == "missing":
        del headers["Klaviyo-Signature"]
    with pytest.raises(EspError) as info:
        adapter.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.AUTHENTICATION
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "timestamp",
    ["2020-01-01T00:00:00Z", "", "not a time", "99999999999999999999", "1577836800"],
)
def test_parse_webhook_refuses_stale_or_missing_timestamps(adapter, timestamp):
    """A correctly signed call from another time is a replay: refused."""
    body = _webhook(_item("event:klaviyo.unsubscribed", "x@example.com"))
    headers, raw = _signed(body, timestamp=timestamp)
    with pytest.raises(EspError) as info:
        adapter.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.AUTHENTICATION


def test_parse_webhook_accepts_epoch_timestamps(adapter):
    body = _webhook(_item("event:klaviyo.unsubscribed", "x@example.com"))
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    for stamp in (str(int(now)), str(int(now * 1000))):
        headers, raw = _signed(body, timestamp=stamp)
        assert [u.email for u in adapter.parse_webhook(headers, raw)] == [
            "x@example.com"
        ]


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'"x"',
        b"5",
        b'{"data": 5}',
        b'{"data": "x"}',
        b'{"data": [5]}',
        b'{"data": [{"topic": "event:klaviyo.unsubscribed", "payload": "x"}]}',
        b'{"data": [{"payload": {"attributes": []}}]}',
        b"[" * 100000 + b"]" * 100000,
        b'{"data": "\xff\xfe"}',
        b"\xff\xfe{}",
        b"{not json",
    ],
)
def test_parse_webhook_malformed_signed_bodies_are_data_errors(adapter, raw):
    headers, raw = _signed(None, raw=raw)
    with pytest.raises(EspError) as info:
        adapter.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.DATA


def test_parse_webhook_skips_unusable_emails(adapter):
    body = _webhook(
        _item("event:klaviyo.unsubscribed", "not-an-email"),
        _item("event:klaviyo.unsubscribed", "ok@example.com", event_id="E2"),
    )
    headers, raw = _signed(body)
    assert [u.email for u in adapter.parse_webhook(headers, raw)] == ["ok@example.com"]


def test_parse_webhook_rejects_mismatched_webhook_id(adapter):
    headers, raw = _signed(_webhook())
    headers["Klaviyo-Webhook-Id"] = "OTHER"
    with pytest.raises(EspError) as info:
        adapter.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.AUTHENTICATION


def test_parse_webhook_without_secret_refuses(adapter):
    unsigned = KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=BASE, api_key="pk_test_x")
    )
    headers, raw = _signed(_webhook())
    with pytest.raises(EspError) as info:
        unsigned.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.AUTHENTICATION


def test_without_list_only_global_suppressions_count(mocked):
    adapter = KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=BASE, api_key="pk_test_x")
    )
    entry = {"list_id": "ANY", "reason": "USER_SUPPRESSED"}
    entry["timestamp"] = "2026-03-01T14:00:00Z"
    mocked.get(
        f"{BASE}/api/profiles",
        json={"data": [_profile("list@example.com", list_suppressions=[entry])]},
    )
    assert adapter.fetch_consent_updates(SINCE) == []
    assert len(mocked.calls) == 2
    assert "suppression.timestamp" in mocked.calls[0].request.url
    assert "updated" in mocked.calls[1].request.url


def test_a_global_unsubscribe_without_suppression_is_reported(mocked):
    """The preference page unsubscribes without any suppression entry."""
    adapter = KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=BASE, api_key="pk_test_x")
    )
    profile = _profile("pref@example.com")
    marketing = profile["attributes"]["subscriptions"]["email"]["marketing"]
    marketing["last_updated"] = "2026-03-01T14:00:00Z"
    mocked.get(f"{BASE}/api/profiles", json={"data": [profile]})
    (update,) = adapter.fetch_consent_updates(SINCE)
    assert (update.email, update.status) == ("pref@example.com", "unsubscribed")
