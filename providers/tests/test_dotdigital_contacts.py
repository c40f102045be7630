"""Dotdigital contacts and consent: exact requests, endpoint, errors."""

import base64
import dataclasses
import datetime
import json
import re
import urllib.parse

import pytest
import requests
import responses

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter, data_field_name
from sandbox import specs

USER = "apiuser-1a2b3c@apiconnector.com"
SECRET = "S3cret-Passw0rd!"
API = "https://r2-api.dotdigital.com"
CONTACT = f"{API}/contacts/v3/email/ada@example.com"

# Known contradictions inside Dotdigital's own documents (reported upstream
# in the team notes); everything else must validate.
SPEC_QUIRKS = (
    re.compile(r"\('resubscribeOptions' was unexpected\)"),
    re.compile(r"is valid under each of .*ipv"),
    re.compile(r"\('json', 'key' were unexpected\)|\('key', 'json' were unexpected\)"),
    re.compile(r"is not of type 'string'"),
)


FIELDS = f"{API}/v2/data-fields"
KNOWN_FIELDS = [
    {"name": "FIRSTNAME", "type": "String"},
    {"name": "LOYALTY_TIER", "type": "String"},
    {"name": "ORDERS_COUNT", "type": "String"},
]


@pytest.fixture(autouse=True)
def _clear_fields_cache():
    dd_adapter._fields_cache.clear()
    yield
    dd_adapter._fields_cache.clear()


def spec_problems(spec, method, template, body=None, query=None):
    found = specs.validate_request(spec, method, template, body, query)
    return [v for v in found if not any(q.search(v.message) for q in SPEC_QUIRKS)]


def adapter(**overrides):
    values = {
        "provider": "dotdigital",
        "base_url": "",
        "api_user": USER,
        "api_secret": SECRET,
        "dotdigital_address_book_id": "12345",
        "extra": {"api_endpoint": API},
    }
    values.update(overrides)
    return DotdigitalAdapter(BackendSettings(**values))


def body_of(call):
    return json.loads(call.request.body)


def query_of(call):
    return urllib.parse.parse_qs(urllib.parse.urlparse(call.request.url).query)


@responses.activate
def test_resolve_endpoint_from_account_info_and_cache():
    responses.get(
        "https://r1-api.dotdigital.com/v2/account-info",
        json={
            "id": 99,
            "properties": [
                {"name": "Name", "type": "String", "value": "Shop"},
                {"name": "ApiEndpoint", "type": "String", "value": API},
            ],
        },
    )
    responses.patch(CONTACT, json={"contactId": 7, "status": "subscribed"})
    dd = adapter(extra={})
    assert dd.test_connection() == f"Dotdigital account 99 at {API}"
    consent = events.Consent(
        email="ada@example.com",
        external_id="p7",
        status=events.ConsentStatus.UNSUBSCRIBED,
    )
    dd.update_consent(consent)
    dd.update_consent(consent)
    assert [c.request.url.split("?")[0] for c in responses.calls] == [
        "https://r1-api.dotdigital.com/v2/account-info",
        CONTACT,
        CONTACT,
    ]
    auth = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    assert responses.calls[1].request.headers["Authorization"] == f"Basic {auth}"


@responses.activate
def test_upsert_new_contact_with_subscribed_consent(sample_profile, make_consent):
    profile = dataclasses.replace(sample_profile, consent=make_consent())
    not_found()
    responses.get(FIELDS, json=KNOWN_FIELDS)
    responses.patch(CONTACT, json={"contactId": 501, "status": "subscribed"})

    result = adapter().upsert_profile(profile)

    assert result.external_id == "501" and result.requests == 3
    call = responses.calls[2]
    assert query_of(call) == {"merge-option": ["overwrite"]}
    body = body_of(call)
    assert body == {
        "identifiers": {"email": "ada@example.com"},
        "dataFields": {
            "FIRSTNAME": "Ada",
            "LASTNAME": "Lovelace",
            "FULLNAME": "Ada Lovelace",
            "POSTCODE": "N1 9GU",
            "LOYALTY_TIER": "gold",
            "ORDERS_COUNT": "3",
        },
        "lists": [12345],
        "channelProperties": {
            "email": {
                "status": "subscribed",
                "optInType": "single",
                "resubscribeOptions": {"resubscribeWithNoChallenge": True},
            }
        },
    }
    template = "/contacts/v3/{identifier}/{value}"
    assert (
        spec_problems("dotdigital_contacts", "PATCH", template, body, query_of(call))
        == []
    )


def not_found(url=CONTACT):
    responses.get(
        url,
        status=404,
        json={"errorCode": "contacts:contactNotFound", "description": "Not found"},
    )


def existing(status="unsubscribed"):
    """The v3 contact GET: no unsubscribe date, only created/updated."""
    responses.get(
        CONTACT,
        json={
            "contactId": 501,
            "status": status,
            "created": "2025-01-02T10:00:00Z",
            "updated": "2026-02-03T10:00:00Z",
            "identifiers": {"email": "ada@example.com"},
            "channelProperties": {
                "email": {"emailType": "html", "optInType": "single", "status": status}
            },
        },
    )


@pytest.mark.parametrize(
    "consent",
    [
        None,
        events.ConsentStatus.NEVER,
        events.ConsentStatus.SUBSCRIBED,
        events.ConsentStatus.UNSUBSCRIBED,
    ],
)
@responses.activate
def test_upsert_existing_contact_never_changes_its_status(
    sample_profile, make_consent, consent
):
    """A profile upsert of an opted-in partner must not resubscribe someone
    who unsubscribed in Dotdigital: status and consent records are left out."""
    profile = dataclasses.replace(
        sample_profile, consent=make_consent(consent) if consent else None
    )
    existing("unsubscribed")
    responses.get(FIELDS, json=KNOWN_FIELDS)
    responses.patch(CONTACT, json={"contactId": 501})
    adapter().upsert_profile(profile)
    assert [c.request.method for c in responses.calls] == ["GET", "GET", "PATCH"]
    body = body_of(responses.calls[2])
    assert "channelProperties" not in body
    assert "consentRecords" not in body
    assert body["dataFields"]["FIRSTNAME"] == "Ada"


@pytest.mark.parametrize("status", [None, events.ConsentStatus.NEVER])
@responses.activate
def test_upsert_new_contact_without_opt_in_is_neutral(
    sample_profile, make_consent, status
):
    """No status (Dotdigital's default) and no marketing address book."""
    consent = make_consent(status) if status else None
    not_found()
    responses.get(FIELDS, json=KNOWN_FIELDS)
    responses.patch(CONTACT, json={"contactId": 8})
    adapter().upsert_profile(dataclasses.replace(sample_profile, consent=consent))
    body = body_of(responses.calls[2])
    assert "channelProperties" not in body
    assert "lists" not in body
    assert body["dataFields"]["FIRSTNAME"] == "Ada"


@pytest.mark.parametrize("status", [None, events.ConsentStatus.NEVER])
@responses.activate
def test_upsert_new_contact_without_opt_in_unsubscribed_when_asked(
    sample_profile, make_consent, status
):
    consent = make_consent(status) if status else None
    not_found()
    responses.get(FIELDS, json=KNOWN_FIELDS)
    responses.patch(CONTACT, json={"contactId": 8})
    dd = adapter(extra={"api_endpoint": API, "never_opted_in": "unsubscribed"})
    dd.upsert_profile(dataclasses.replace(sample_profile, consent=consent))
    body = body_of(responses.calls[2])
    assert body["channelProperties"] == {"email": {"status": "unsubscribed"}}
    assert "lists" not in body, "the marketing address book is for opt-ins"


@responses.activate
def test_update_consent_statuses(make_consent):
    responses.patch(CONTACT, json={"contactId": 9})
    dd = adapter()
    dd.update_consent(make_consent(events.ConsentStatus.UNSUBSCRIBED))
    dd.update_consent(make_consent(suppressed=True))
    never = dd.update_consent(make_consent(events.ConsentStatus.NEVER))
    assert never.skipped_reason and never.requests == 0
    bodies = [body_of(c) for c in responses.calls]
    assert bodies == [
        {
            "identifiers": {"email": "ada@example.com"},
            "channelProperties": {"email": {"status": "unsubscribed"}},
        },
        {
            "identifiers": {"email": "ada@example.com"},
            "channelProperties": {"email": {"status": "suppressed"}},
        },
    ]


@responses.activate
def test_consent_event_resubscribes_without_lookup(make_consent):
    """The explicit Odoo opt-in event is the only thing that resubscribes."""
    responses.patch(CONTACT, json={"contactId": 9})
    adapter().update_consent(make_consent())
    assert [c.request.method for c in responses.calls] == ["PATCH"]
    assert body_of(responses.calls[0])["channelProperties"] == {
        "email": {
            "status": "subscribed",
            "optInType": "single",
            "resubscribeOptions": {"resubscribeWithNoChallenge": True},
        }
    }


@responses.activate
def test_consent_records_sent_when_evidence_is_complete(make_consent):
    @dataclasses.dataclass(frozen=True)
    class RichConsent(events.Consent):
        url: str = ""
        ip_address: str = ""
        user_agent: str = ""

    consent = RichConsent(
        email="ada@example.com",
        external_id="p7",
        status=events.ConsentStatus.SUBSCRIBED,
        consented_at=datetime.datetime(2026, 2, 1, 9, tzinfo=datetime.timezone.utc),
        url="https://shop.example.com/newsletter",
        ip_address="192.0.2.10",
        user_agent="Mozilla/5.0",
    )
    responses.patch(CONTACT, json={"contactId": 9})
    adapter().update_consent(consent)
    body = body_of(responses.calls[0])
    assert body["consentRecords"] == [
        {
            "text": "Opted in via Odoo",
            "dateTimeConsented": "2026-02-01T09:00:00Z",
            "url": "https://shop.example.com/newsletter",
            "ipAddress": "192.0.2.10",
            "userAgent": "Mozilla/5.0",
        }
    ]
    template = "/contacts/v3/{identifier}/{value}"
    assert spec_problems("dotdigital_contacts", "PATCH", template, body) == []


@responses.activate
def test_email_with_plus_is_escaped(make_consent):
    url = f"{API}/contacts/v3/email/ada%2Bnews@example.com"
    responses.patch(url, json={"contactId": 1})
    adapter().update_consent(
        make_consent(events.ConsentStatus.UNSUBSCRIBED, email="Ada+news@example.com")
    )
    assert responses.calls[0].request.url.startswith(url)


def test_invalid_email_and_field_names(sample_profile):
    with pytest.raises(EspError) as info:
        adapter().upsert_profile(dataclasses.replace(sample_profile, email="nope"))
    assert info.value.category == ErrorCategory.DATA
    assert data_field_name("Loyalty Tier") == "LOYALTY_TIER"
    with pytest.raises(EspError):
        data_field_name("2nd")


def _error(status, body, headers=None, method="PATCH"):
    responses.add(method, CONTACT, status=status, json=body, headers=headers or {})
    consent = events.Consent(
        email="ada@example.com",
        external_id="p",
        status=events.ConsentStatus.UNSUBSCRIBED,
    )
    with pytest.raises(EspError) as info:
        adapter().update_consent(consent)
    assert SECRET not in str(info.value) and USER not in str(info.value)
    return info.value


@responses.activate
def test_v3_field_error_is_data():
    error = _error(
        400,
        {
            "errorCode": "contacts:validationFailed",
            "description": "Validation failed",
            "details": [{"item": "dataFields.BIRTHDAY", "description": "Not a date"}],
        },
    )
    assert error.category == ErrorCategory.DATA
    assert error.field == "dataFields.BIRTHDAY" and "Not a date" in str(error)


@responses.activate
def test_v2_message_shape():
    error = _error(400, {"message": "Contact email is invalid ERROR_CONTACT_INVALID"})
    assert error.category == ErrorCategory.DATA
    assert "ERROR_CONTACT_INVALID" in str(error)


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_auth_errors(status):
    error = _error(status, {"message": f"Authorization has been denied {SECRET}"})
    assert error.category == ErrorCategory.AUTHENTICATION


@responses.activate
def test_404_is_configuration_and_409_is_data():
    assert _error(404, {"errorCode": "x", "description": "No book"}).category == (
        ErrorCategory.CONFIGURATION
    )


@responses.activate
def test_409_identifier_conflict_is_data():
    error = _error(
        409, {"errorCode": "contacts:idAlreadyExists", "description": "exists"}
    )
    assert error.category == ErrorCategory.DATA
    assert error.code == "contacts:idAlreadyExists"


@responses.activate
def test_429_with_reset_header():
    error = _error(429, {"message": "slow"}, headers={"X-RateLimit-Reset": "30"})
    assert error.category == ErrorCategory.RATE_LIMIT and error.retry_after == 30.0


@responses.activate
def test_429_with_retry_after():
    error = _error(429, {"message": "slow"}, headers={"Retry-After": "5"})
    assert error.retry_after == 5.0


@responses.activate
def test_5xx_and_connection_errors_are_transient():
    assert _error(500, {"message": "oops"}).category == ErrorCategory.TRANSIENT
    responses.reset()
    responses.patch(CONTACT, body=requests.ConnectionError("down"))
    consent = events.Consent(
        email="ada@example.com",
        external_id="p",
        status=events.ConsentStatus.UNSUBSCRIBED,
    )
    with pytest.raises(EspError) as info:
        adapter().update_consent(consent)
    assert info.value.category == ErrorCategory.TRANSIENT


def test_missing_credentials_is_configuration(make_consent):
    with pytest.raises(EspError) as info:
        adapter(api_secret="").update_consent(
            make_consent(events.ConsentStatus.UNSUBSCRIBED)
        )
    assert info.value.category == ErrorCategory.CONFIGURATION


@responses.activate
def test_fetch_consent_updates_pages_and_dedupes():
    since = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    unsub = f"{API}/v2/contacts/unsubscribed-since/2026-03-01T00:00:00Z"
    supp = f"{API}/v2/contacts/suppressed-since/2026-03-01T00:00:00Z"

    def row(email, reason, when):
        return {
            "suppressedContact": {"id": 1, "email": email, "status": reason},
            "dateRemoved": when,
            "reason": reason,
        }

    responses.get(unsub, json=[row("A@x.com", "Unsubscribed", "2026-03-02T10:00:00Z")])
    responses.get(
        supp,
        json=[
            row("a@x.com", "Unsubscribed", "2026-03-02T10:00:00Z"),
            row("b@x.com", "HardBounced", "2026-03-03T10:00:00Z"),
        ],
    )
    updates = adapter().fetch_consent_updates(since)
    assert [(u.email, u.status, u.reason) for u in updates] == [
        ("a@x.com", "unsubscribed", "Unsubscribed"),
        ("b@x.com", "suppressed", "HardBounced"),
    ]
    assert query_of(responses.calls[0]) == {"select": ["1000"], "skip": ["0"]}
    template = "/v2/contacts/suppressed-since/{date}"
    assert (
        spec_problems(
            "dotdigital_v2", "GET", template, query={"select": "1000", "skip": "0"}
        )
        == []
    )


@responses.activate
def test_missing_data_fields_are_created_once(sample_profile, make_consent):
    profile = dataclasses.replace(sample_profile, consent=make_consent())
    existing("subscribed")
    responses.get(FIELDS, json=[{"name": "LOYALTY_TIER", "type": "String"}])
    responses.post(FIELDS, json={"name": "ORDERS_COUNT"})
    responses.patch(CONTACT, json={"contactId": 1})
    adapter().upsert_profile(profile)
    adapter().upsert_profile(profile)
    methods = [c.request.method for c in responses.calls]
    assert methods == ["GET", "GET", "POST", "PATCH", "GET", "PATCH"]
    created = body_of(responses.calls[2])
    assert created == {
        "name": "ORDERS_COUNT",
        "type": "String",
        "visibility": "Private",
    }
    assert spec_problems("dotdigital_v2", "POST", "/v2/data-fields", created) == []


@responses.activate
def test_data_field_creation_disabled_is_configuration(sample_profile, make_consent):
    profile = dataclasses.replace(sample_profile, consent=make_consent())
    not_found()
    responses.get(FIELDS, json=[])
    with pytest.raises(EspError) as info:
        adapter(
            extra={"api_endpoint": API, "create_data_fields": False}
        ).upsert_profile(profile)
    assert info.value.category == ErrorCategory.CONFIGURATION
    assert info.value.code == "data_field_missing"


@responses.activate
def test_unknown_data_field_answer_creates_it_and_retries(sample_profile, make_consent):
    profile = dataclasses.replace(sample_profile, consent=make_consent())
    dd_adapter._fields_cache[(API, _digest())] = {"LOYALTY_TIER", "ORDERS_COUNT"}
    not_found()
    responses.patch(
        CONTACT,
        status=400,
        json={
            "errorCode": "contacts:invalidDataFields",
            "description": "Invalid data fields: LOYALTY_TIER",
            "details": [
                {"item": "LOYALTY_TIER", "description": "Data field does not exist"}
            ],
        },
    )
    responses.post(FIELDS, json={})
    responses.patch(CONTACT, json={"contactId": 2})
    assert adapter().upsert_profile(profile).external_id == "2"
    methods = [c.request.method for c in responses.calls]
    assert methods == ["GET", "PATCH", "POST", "PATCH"]


def _digest():
    import hashlib

    return hashlib.sha256(USER.encode()).hexdigest()[:12]
