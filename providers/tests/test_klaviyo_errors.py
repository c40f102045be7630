"""KlaviyoAdapter error mapping: categories, fields, retry hints, no secrets."""

import pytest
import requests
import responses

from providers.base import BackendSettings, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter

BASE = "https://a.klaviyo.com"
API_KEY = "pk_live_SECRET0123456789"
URL = f"{BASE}/api/profile-import"


@pytest.fixture
def adapter():
    settings = BackendSettings(provider="klaviyo", base_url=BASE, api_key=API_KEY)
    return KlaviyoAdapter(settings)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def _fail(adapter, sample_profile):
    with pytest.raises(EspError) as info:
        adapter.upsert_profile(sample_profile)
    error = info.value
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error.args)
    return error


def _errors(detail, pointer=None, code="invalid"):
    error = {"id": "e1", "code": code, "title": "Invalid input.", "detail": detail}
    if pointer:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


def test_400_names_the_field(adapter, mocked, sample_profile):
    mocked.post(
        URL,
        status=400,
        json=_errors("Invalid email address", "/data/attributes/email"),
    )
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.DATA
    assert not error.retryable
    assert error.status == 400
    assert error.field == "email"
    assert error.code == "invalid"
    assert error.message == "Invalid email address"
    assert str(error) == "HTTP 400: Invalid email address (field: email)"


def test_nested_pointer_and_several_errors(adapter, mocked, sample_profile):
    body = _errors("Invalid zip", "/data/attributes/location/zip")
    body["errors"].append({"id": "e2", "code": "x", "title": "t", "detail": "Bad"})
    mocked.post(URL, status=422, json=body)
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.DATA
    assert error.field == "location.zip"
    assert error.message == "Invalid zip; Bad"


def test_409_is_data(adapter, mocked, sample_profile):
    mocked.post(URL, status=409, json=_errors("Duplicate", code="duplicate_profile"))
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.DATA
    assert error.code == "duplicate_profile"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(adapter, mocked, sample_profile, status):
    mocked.post(
        URL,
        status=status,
        json=_errors(
            f"Incorrect authentication credentials: Klaviyo-API-Key {API_KEY}",
            code="not_authenticated",
        ),
    )
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.AUTHENTICATION
    assert "Incorrect authentication credentials" in error.message
    assert "***" in error.message


def test_404_is_configuration(adapter, mocked, sample_profile):
    mocked.post(URL, status=404, json=_errors("Not found.", code="not_found"))
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.CONFIGURATION


def test_429_carries_retry_after(adapter, mocked, sample_profile):
    mocked.post(
        URL,
        status=429,
        json=_errors("Request was throttled.", code="throttled"),
        headers={"Retry-After": "7", "RateLimit-Remaining": "0"},
    )
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.RATE_LIMIT
    assert error.retryable
    assert error.retry_after == 7.0
    assert adapter.last_rate_limit["remaining"] == 0


def test_429_without_retry_after_uses_reset(adapter, mocked, sample_profile):
    mocked.post(URL, status=429, json={}, headers={"RateLimit-Reset": "12"})
    error = _fail(adapter, sample_profile)
    assert error.retry_after == 12.0


def test_500_without_json_is_transient(adapter, mocked, sample_profile):
    mocked.post(URL, status=503, body="<html>Service Unavailable</html>")
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.TRANSIENT
    assert error.retryable
    assert error.status == 503
    assert "Service Unavailable" in error.message


@pytest.mark.parametrize(
    "exc", [requests.Timeout("read timed out"), requests.ConnectionError("refused")]
)
def test_network_errors_are_transient(adapter, mocked, sample_profile, exc):
    mocked.post(URL, body=exc)
    error = _fail(adapter, sample_profile)
    assert error.category == ErrorCategory.TRANSIENT
    assert "a.klaviyo.com" in error.message


def test_pagination_never_leaves_the_configured_host(adapter, mocked):
    """A next link to another host is followed on our base URL only."""
    mocked.get(
        f"{BASE}/api/profiles",
        json={
            "data": [],
            "links": {
                "next": "https://evil.example.com/api/profiles?page%5Bcursor%5D=2"
            },
        },
    )
    mocked.get(f"{BASE}/api/profiles", json={"data": []})
    assert adapter.fetch_consent_updates(None) == []
    hosts = {call.request.url.split("/")[2] for call in mocked.calls}
    assert hosts == {"a.klaviyo.com"}
    assert "page%5Bcursor%5D=2" in mocked.calls[1].request.url
