"""SMS marketing consent: exact Klaviyo and Dotdigital requests, spec-valid,
and their effect in the sandbox; Mailchimp sends nothing."""

import datetime
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings
from providers.dotdigital.adapter import DotdigitalAdapter
from providers.klaviyo import KlaviyoAdapter
from providers.klaviyo import const as kl_const
from providers.mailchimp import MailchimpAdapter
from sandbox import specs

KL = "https://a.klaviyo.com"
DD = "https://r2-api.dotdigital.com"
DD_USER = "apiuser-sandbox-sms@apiconnector.com"
CONSENTED = datetime.datetime(2026, 3, 1, 10, 30, tzinfo=datetime.timezone.utc)
S = events.ConsentStatus


def sms(status=S.SUBSCRIBED, **overrides):
    values = {
        "email": "ada@example.com",
        "external_id": "odoo-1-7",
        "phone": "+32475123456",
        "status": status,
        "consented_at": CONSENTED,
        "source": "Shop checkout",
        "country_code": "BE",
    }
    values.update(overrides)
    return events.SmsConsent(**values)


def klaviyo(base=KL, key="pk_test_sms_0123456789"):
    return KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=base, api_key=key, timeout=5)
    )


def dotdigital(base="", user=DD_USER, **extra):
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=base,
            api_user=user,
            api_secret="sandbox-password",
            extra=extra,
        )
    )


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def body_of(call):
    return json.loads(call.request.body)


def assert_klaviyo_valid(path, body):
    problems = specs.validate_request(
        "klaviyo", "POST", path, body, content_type=kl_const.MEDIA_TYPE
    )
    assert not problems, [str(p) for p in problems]


# --- Klaviyo ----------------------------------------------------------------
def test_klaviyo_sms_subscribe_request(mocked):
    path = "/api/profile-subscription-bulk-create-jobs"
    mocked.post(KL + path, status=202)
    result = klaviyo().update_sms_consent(sms())
    assert result.detail == {"action": "sms subscribed"}
    body = body_of(mocked.calls[0])
    assert_klaviyo_valid(path, body)
    assert body == {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": "Shop checkout",
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "ada@example.com",
                                "phone_number": "+32475123456",
                                "subscriptions": {
                                    "sms": {
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
        }
    }


def test_klaviyo_sms_unsubscribe_names_only_the_number(mocked):
    path = "/api/profile-subscription-bulk-delete-jobs"
    mocked.post(KL + path, status=202)
    klaviyo().update_sms_consent(sms(S.UNSUBSCRIBED))
    body = body_of(mocked.calls[0])
    assert_klaviyo_valid(path, body)
    assert body == {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "phone_number": "+32475123456",
                                "subscriptions": {
                                    "sms": {"marketing": {"consent": "UNSUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                }
            },
        }
    }


def test_never_opted_in_sends_nothing(mocked):
    assert klaviyo().update_sms_consent(sms(S.NEVER)).requests == 0
    assert dotdigital(api_endpoint=DD).update_sms_consent(sms(S.NEVER)).requests == 0
    assert not mocked.calls


def test_mailchimp_has_no_sms_consent(mocked):
    adapter = MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url="",
            api_key="0123456789abcdef-us1",
            mailchimp_list_id="L1",
        )
    )
    result = adapter.update_sms_consent(sms())
    assert result.requests == 0
    assert "no SMS consent" in result.skipped_reason
    assert not mocked.calls


# --- Dotdigital ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "expected"),
    [(S.SUBSCRIBED, "subscribed"), (S.UNSUBSCRIBED, "unsubscribed")],
)
def test_dotdigital_sms_status_request(mocked, status, expected):
    url = f"{DD}/contacts/v3/email/ada@example.com"
    mocked.get(url, json={"contactId": 42, "status": "subscribed"})
    mocked.patch(url, json={"contactId": 42, "status": "subscribed"})
    result = dotdigital(api_endpoint=DD).update_sms_consent(sms(status))
    assert result.external_id == "42"
    assert result.detail == {"sms_status": expected}
    assert [c.request.method for c in mocked.calls] == ["GET", "PATCH"]
    call = mocked.calls[1]
    assert "merge-option=" in call.request.url
    body = body_of(call)
    assert body == {
        "identifiers": {"email": "ada@example.com", "mobileNumber": "32475123456"},
        "channelProperties": {"sms": {"status": expected}},
    }
    problems = specs.validate_request(
        "dotdigital_contacts",
        "PATCH",
        "/contacts/v3/{identifier}/{value}",
        body,
        {"merge-option": "overwrite"},
    )
    assert not problems, [str(p) for p in problems]


# --- the sandbox --------------------------------------------------------------
def test_klaviyo_sandbox_keeps_sms_apart_from_email(sb, make_consent):
    adapter = klaviyo(base=sb.base_url("klaviyo"), key="pk_sandbox_sms_01")
    adapter.update_consent(make_consent())
    adapter.update_sms_consent(sms())

    def profile():
        (found,) = sb.state("klaviyo")["pk_sandbox_sms_01"]["profiles"].values()
        return found

    assert profile()["email"] == "ada@example.com"
    assert profile()["phone_number"] == "+32475123456"
    assert profile()["subscriptions"]["sms"]["consent"] == "SUBSCRIBED"
    adapter.update_sms_consent(sms(S.UNSUBSCRIBED))
    assert profile()["subscriptions"]["sms"]["consent"] == "UNSUBSCRIBED"
    assert profile()["subscriptions"]["email"]["consent"] == "SUBSCRIBED"


def test_klaviyo_sandbox_refuses_a_number_not_in_e164(sb):
    adapter = klaviyo(base=sb.base_url("klaviyo"), key="pk_sandbox_sms_02")
    with pytest.raises(Exception) as caught:
        adapter.update_sms_consent(sms(phone="0475123456"))
    assert "phone" in str(caught.value).lower()


def test_dotdigital_sandbox_sms_channel(sb, make_consent):
    adapter = dotdigital(base=sb.url + "/dotdigital")
    adapter.update_consent(make_consent())
    adapter.update_sms_consent(sms())

    def contact():
        state = sb.state("dotdigital", account=DD_USER)
        (found,) = state["contacts"].values()
        return found

    assert contact()["identifiers"]["mobileNumber"] == "32475123456"
    assert contact()["channelProperties"]["sms"] == {"status": "subscribed"}
    adapter.update_sms_consent(sms(S.UNSUBSCRIBED))
    assert contact()["channelProperties"]["sms"] == {"status": "unsubscribed"}
    assert contact()["channelProperties"]["email"]["status"] == "subscribed"


def test_dotdigital_creates_a_prospect_in_the_never_opted_in_state(mocked):
    """A contact the SMS opt-in creates gets no email status (neutral:
    outside the marketing address book), or unsubscribed when the backend
    says so; an SMS opt-out for nobody sends nothing."""
    url = f"{DD}/contacts/v3/email/ada@example.com"
    for mode, email in (("neutral", None), ("unsubscribed", "unsubscribed")):
        mocked.calls.reset()
        mocked.get(url, status=404, json={"errorCode": "contacts:contactNotFound"})
        mocked.patch(url, json={"contactId": 5})
        adapter = dotdigital(api_endpoint=DD, never_opted_in=mode)
        adapter.update_sms_consent(sms())
        body = json.loads(mocked.calls[-1].request.body)
        assert body["channelProperties"]["sms"] == {"status": "subscribed"}
        assert body["channelProperties"].get("email", {}).get("status") == email
        assert "lists" not in body
    mocked.calls.reset()
    mocked.get(url, status=404, json={"errorCode": "contacts:contactNotFound"})
    result = adapter.update_sms_consent(sms(S.UNSUBSCRIBED))
    assert "no SMS to unsubscribe" in result.skipped_reason
    assert [c.request.method for c in mocked.calls] == ["GET"]


def test_klaviyo_poll_reads_an_sms_stop_apart_from_email(sb, make_consent):
    adapter = klaviyo(base=sb.base_url("klaviyo"), key="pk_sandbox_sms_03")
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=5
    )
    adapter.update_consent(make_consent())
    adapter.update_sms_consent(sms())
    sb.action("klaviyo", "sms_stop", email="ada@example.com")
    (update,) = adapter.fetch_consent_updates(before)
    assert (update.email, update.status, update.channel, update.phone) == (
        "ada@example.com",
        "unsubscribed",
        "sms",
        "+32475123456",
    )
    assert update.reason == "SMS INBOUND_MESSAGE"
    # Before an email opt-in, only the email channel is read.
    assert adapter.read_consent("ada@example.com") is None


def test_klaviyo_reads_sms_consent_before_an_opt_in(mocked):
    profile = {
        "type": "profile",
        "id": "P1",
        "attributes": {
            "email": "ada@example.com",
            "phone_number": "+32475123456",
            "subscriptions": {
                "email": {"marketing": {"consent": "SUBSCRIBED"}},
                "sms": {
                    "marketing": {
                        "consent": "UNSUBSCRIBED",
                        "method": "INBOUND_MESSAGE",
                        "last_updated": "2026-03-02T08:00:00+00:00",
                    }
                },
            },
        },
    }
    mocked.get(f"{KL}/api/profiles", json={"data": [profile], "links": {}})
    update = klaviyo().read_sms_consent("Ada@Example.com")
    (call,) = mocked.calls
    assert "filter=equals%28email%2C%22ada%40example.com%22%29" in call.request.url
    assert "additional-fields%5Bprofile%5D=subscriptions" in call.request.url
    assert (update.channel, update.status, update.phone) == (
        "sms",
        "unsubscribed",
        "+32475123456",
    )
    assert update.occurred_at == datetime.datetime(
        2026, 3, 2, 8, 0, tzinfo=datetime.timezone.utc
    )
    profile["attributes"]["subscriptions"]["sms"]["marketing"]["consent"] = "SUBSCRIBED"
    mocked.get(f"{KL}/api/profiles", json={"data": [profile], "links": {}})
    assert klaviyo().read_sms_consent("ada@example.com") is None
