"""Mailchimp error bodies -> classified EspError, without credentials."""

import dataclasses

import pytest
import requests
import responses

from providers.base import BackendSettings, ErrorCategory, EspError
from providers.mailchimp.adapter import MailchimpAdapter
from providers.mailchimp.util import subscriber_hash

KEY = "feedfacecafebeef0123456789abcdef-us6"
MEMBER = "https://us6.api.mailchimp.com/3.0/lists/L1/members/" + subscriber_hash(
    "ada@example.com"
)


def adapter():
    return MailchimpAdapter(
        BackendSettings(
            provider="mailchimp", base_url="", api_key=KEY, mailchimp_list_id="L1"
        )
    )


def problem(status, title, detail="", errors=None):
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "d6a0f8c2",
    }
    if errors is not None:
        body["errors"] = errors
    return body


def upsert_error(profile, status, body, headers=None):
    responses.put(MEMBER, status=status, json=body, headers=headers or {})
    profile = dataclasses.replace(profile, properties={})
    with pytest.raises(EspError) as info:
        adapter().upsert_profile(profile)
    error = info.value
    assert KEY not in str(error) and KEY not in repr(error.args)
    return error


@responses.activate
def test_field_error_is_data_naming_the_field(sample_profile):
    body = problem(
        400,
        "Invalid Resource",
        "Your merge fields were invalid.",
        [{"field": "LNAME", "message": "Please enter a value"}],
    )
    error = upsert_error(sample_profile, 400, body)
    assert error.category == ErrorCategory.DATA
    assert error.field == "LNAME"
    assert "Please enter a value" in str(error)
    assert error.status == 400


@responses.activate
def test_member_exists_is_data(sample_profile):
    error = upsert_error(
        sample_profile, 400, problem(400, "Member Exists", "ada is already a member")
    )
    assert (error.category, error.code) == (ErrorCategory.DATA, "member_exists")


@responses.activate
def test_compliance_state_is_data_with_clear_message(sample_profile):
    body = problem(
        400,
        "Member In Compliance State",
        "ada@example.com is in a compliance state due to unsubscribe",
    )
    error = upsert_error(sample_profile, 400, body)
    assert error.category == ErrorCategory.DATA
    assert error.code == "member_in_compliance_state"
    assert "must not subscribe" in str(error)


@responses.activate
def test_403_throttle_is_rate_limit(sample_profile):
    body = problem(
        403,
        "Forbidden",
        "You have exceeded the limit of 10 simultaneous connections.",
    )
    error = upsert_error(sample_profile, 403, body)
    assert error.category == ErrorCategory.RATE_LIMIT
    assert error.retryable and error.retry_after == 60.0


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_auth_failures(sample_profile, status):
    body = problem(status, "API Key Invalid", f"Your API key {KEY} may be invalid.")
    error = upsert_error(sample_profile, status, body)
    assert error.category == ErrorCategory.AUTHENTICATION
    assert not error.retryable


@responses.activate
def test_404_is_configuration(sample_profile):
    error = upsert_error(
        sample_profile, 404, problem(404, "Resource Not Found", "List not found")
    )
    assert error.category == ErrorCategory.CONFIGURATION
    assert "audience" in str(error)


@responses.activate
def test_429_reads_retry_after(sample_profile):
    error = upsert_error(
        sample_profile,
        429,
        problem(429, "Too Many Requests", "slow down"),
        headers={"Retry-After": "17"},
    )
    assert error.category == ErrorCategory.RATE_LIMIT
    assert error.retry_after == 17.0


@responses.activate
def test_5xx_is_transient(sample_profile):
    error = upsert_error(sample_profile, 503, problem(503, "Service Unavailable"))
    assert error.category == ErrorCategory.TRANSIENT and error.retryable


@responses.activate
def test_non_json_error_body(sample_profile):
    responses.put(MEMBER, status=502, body="<html>bad gateway</html>")
    with pytest.raises(EspError) as info:
        adapter().upsert_profile(dataclasses.replace(sample_profile, properties={}))
    assert info.value.category == ErrorCategory.TRANSIENT


@responses.activate
def test_connection_error_is_transient_without_key(sample_profile):
    responses.put(MEMBER, body=requests.ConnectionError(f"boom {KEY}"))
    with pytest.raises(EspError) as info:
        adapter().upsert_profile(dataclasses.replace(sample_profile, properties={}))
    assert info.value.category == ErrorCategory.TRANSIENT
    assert KEY not in str(info.value)


def test_missing_key_is_configuration(sample_profile):
    settings = BackendSettings(
        provider="mailchimp", base_url="http://x", mailchimp_list_id="L1"
    )
    with pytest.raises(EspError) as info:
        MailchimpAdapter(settings).upsert_profile(sample_profile)
    assert info.value.category == ErrorCategory.CONFIGURATION
