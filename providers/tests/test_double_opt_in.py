"""Double opt-in per ESP, against the in-process sandbox (spec-validated).

With ``extra["double_opt_in"]`` a new opt-in asks the ESP to confirm by
email: the exact request each ESP gets, the pending state it keeps until the
sandbox "clicks the link", and an opt-out while pending that voids it.
"""

import pytest

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter
from providers.klaviyo import KlaviyoAdapter
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter

sandbox = pytest.importorskip("sandbox")
S = events.ConsentStatus
EMAIL = "ada@example.com"
KL_KEY = "pk_sandbox_double_opt_in"
MC_KEY = "sandbox-doi-us1"
MC_LIST = "aud00001"
DD_USER = "apiuser-sandbox-doi@apiconnector.com"
DOI = {"double_opt_in": True}


@pytest.fixture(scope="module")
def running():
    with sandbox.Sandbox(port=0, validate=True, rate_limits=False) as sb:
        yield sb


@pytest.fixture
def sb(running):
    running.reset()
    return running


def _bodies(sb, provider, method):
    return [
        (entry["path"], entry["body"])
        for entry in sb.requests(provider)
        if entry["method"] == method
    ]


# --- Klaviyo ----------------------------------------------------------------------
def _klaviyo(sb, **settings):
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo",
            base_url=sb.base_url("klaviyo"),
            api_key=KL_KEY,
            timeout=5,
            extra=dict(DOI),
            **settings,
        )
    )


def _doi_list(sb):
    body = {
        "data": {
            "type": "list",
            "attributes": {"name": "Newsletter", "opt_in_process": "double_opt_in"},
        }
    }
    return _klaviyo(sb)._request("POST", "/api/lists", json=body)["data"]["id"]


def test_klaviyo_subscribes_to_the_double_opt_in_list_never_historical(
    sb, make_consent
):
    list_id = _doi_list(sb)
    adapter = _klaviyo(sb, klaviyo_list_id=list_id)
    result = adapter.update_consent(make_consent())
    assert result.detail == {
        "action": "confirmation requested",
        "awaiting_confirmation": True,
    }
    (path, body), *_rest = _bodies(sb, "klaviyo", "POST")[1:]
    assert path == "/api/profile-subscription-bulk-create-jobs"
    assert body["data"]["relationships"]["list"]["data"] == {
        "type": "list",
        "id": list_id,
    }
    attributes = body["data"]["attributes"]
    assert "historical_import" not in attributes
    profile = attributes["profiles"]["data"][0]["attributes"]
    assert profile["email"] == EMAIL
    assert "consented_at" not in profile["subscriptions"]["email"]["marketing"]
    # Pending: Klaviyo shows the profile as never subscribed until confirmed.
    assert adapter.read_subscription(EMAIL) == "never"
    assert adapter.read_consent(EMAIL) is None  # pending is no opt-out
    sb.action("klaviyo", "confirm_opt_in", email=EMAIL)
    assert adapter.read_subscription(EMAIL) == "subscribed"
    # Confirmed: asking again awaits nothing (Klaviyo asks a subscribed
    # profile no confirmation; it stays on the list).
    assert adapter.update_consent(make_consent()).detail == {"action": "subscribed"}
    profile = next(iter(sb.state("klaviyo")[KL_KEY]["profiles"].values()))
    assert profile["lists"] == [list_id] and not profile["pending_lists"]


def test_klaviyo_opt_out_while_pending_voids_the_confirmation(sb, make_consent):
    adapter = _klaviyo(sb, klaviyo_list_id=_doi_list(sb))
    adapter.update_consent(make_consent())
    adapter.update_consent(make_consent(S.UNSUBSCRIBED))
    sb.action("klaviyo", "confirm_opt_in", email=EMAIL)  # a late click
    assert adapter.read_subscription(EMAIL) == "unsubscribed"


def test_klaviyo_double_opt_in_needs_a_list(sb, make_consent):
    with pytest.raises(EspError) as caught:
        _klaviyo(sb).update_consent(make_consent())
    assert caught.value.category == ErrorCategory.CONFIGURATION


# --- Mailchimp --------------------------------------------------------------------
def _mailchimp(sb):
    mc_adapter._merge_tags_cache.clear()
    return MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url=sb.url + "/mailchimp",
            api_key=MC_KEY,
            mailchimp_list_id=MC_LIST,
            extra=dict(DOI),
        )
    )


def test_mailchimp_creates_a_pending_member_never_subscribed(
    sb, make_consent, sample_profile
):
    adapter = _mailchimp(sb)
    result = adapter.update_consent(make_consent())
    assert result.detail["awaiting_confirmation"] is True
    ((path, body),) = _bodies(sb, "mailchimp", "PUT")
    assert path.startswith(f"/3.0/lists/{MC_LIST}/members/")
    assert body["status_if_new"] == "pending" and "status" not in body
    assert adapter.read_subscription(EMAIL) == "pending"
    assert adapter.fetch_consent_updates(None) == []  # pending is no opt-out
    # A profile upsert of a new person is pending too.
    other = events.Profile(
        email="bob@example.com",
        external_id="res.partner-8",
        consent=make_consent(email="bob@example.com"),
    )
    adapter.upsert_profile(other)
    assert adapter.read_subscription("bob@example.com") == "pending"
    sb.action("mailchimp", "confirm_opt_in", email=EMAIL, account=MC_KEY)
    assert adapter.read_subscription(EMAIL) == "subscribed"
    assert "awaiting_confirmation" not in adapter.update_consent(make_consent()).detail


def test_mailchimp_opt_out_while_pending(sb, make_consent):
    adapter = _mailchimp(sb)
    adapter.update_consent(make_consent())
    adapter.update_consent(make_consent(S.UNSUBSCRIBED))
    answer = sb.action("mailchimp", "confirm_opt_in", email=EMAIL, account=MC_KEY)
    assert answer["webhooks"] == 0
    assert adapter.read_subscription(EMAIL) == "unsubscribed"


# --- Dotdigital -------------------------------------------------------------------
def _dotdigital(sb):
    dd_adapter._fields_cache.clear()
    return DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=sb.url + "/dotdigital",
            api_user=DD_USER,
            api_secret="sandbox-password",
            extra=dict(DOI),
        )
    )


def test_dotdigital_verified_double_leaves_the_contact_pending(sb, make_consent):
    adapter = _dotdigital(sb)
    result = adapter.update_consent(make_consent())
    assert result.detail == {"status": "pendingOptIn", "awaiting_confirmation": True}
    ((path, body),) = _bodies(sb, "dotdigital", "PATCH")
    assert path.endswith(f"/contacts/v3/email/{EMAIL}")
    assert body["channelProperties"]["email"] == {
        "status": "subscribed",
        "optInType": "verifiedDouble",
        "resubscribeOptions": {"resubscribeWithNoChallenge": False},
    }
    assert adapter.read_subscription(EMAIL) == "pending"
    assert adapter.read_consent(EMAIL) is None  # pending is no opt-out
    # Asked again while pending: no second confirmation email (no PATCH).
    again = adapter.update_consent(make_consent())
    assert again.detail == {"status": "pendingOptIn", "awaiting_confirmation": True}
    assert len(_bodies(sb, "dotdigital", "PATCH")) == 1
    sb.action("dotdigital", "confirm_opt_in", email=EMAIL, account=DD_USER)
    assert adapter.read_subscription(EMAIL) == "subscribed"
    assert adapter.update_consent(make_consent()).detail == {"status": "subscribed"}
    assert len(_bodies(sb, "dotdigital", "PATCH")) == 1


def test_dotdigital_opt_out_while_pending(sb, make_consent):
    adapter = _dotdigital(sb)
    adapter.update_consent(make_consent())
    adapter.update_consent(make_consent(S.UNSUBSCRIBED))
    sb.action("dotdigital", "confirm_opt_in", email=EMAIL, account=DD_USER)
    assert adapter.read_subscription(EMAIL) == "unsubscribed"
