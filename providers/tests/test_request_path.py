"""The one request path of EspAdapter, as each ESP's adapter uses it."""

import pytest
import requests
import responses

from providers import get_adapter
from providers.base import BackendSettings, ErrorCategory, EspError

SECRET = "S3cret-0123456789abcdef"
# (settings, a GET path, its URL)
ESPS = {
    "klaviyo": (
        {"base_url": "https://a.klaviyo.com", "api_key": SECRET},
        "/api/accounts",
        "https://a.klaviyo.com/api/accounts",
    ),
    "mailchimp": (
        {"base_url": "", "api_key": f"{SECRET}-us6"},
        "/3.0/ping",
        "https://us6.api.mailchimp.com/3.0/ping",
    ),
    "dotdigital": (
        {"base_url": "", "api_user": "u@apiconnector.com", "api_secret": SECRET},
        "/v2/account-info",
        "https://r1-api.dotdigital.com/v2/account-info",
    ),
}
RATE_HEADERS = {
    "klaviyo": {
        "RateLimit-Limit": "75",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "9",
    },
    "mailchimp": {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "9",
    },
    "dotdigital": {
        "X-RateLimit-Limit": "2000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "9",
    },
}


def _adapter(provider):
    values, path, url = ESPS[provider]
    return get_adapter(BackendSettings(provider=provider, **values)), path, url


@pytest.mark.parametrize("provider", sorted(ESPS))
@responses.activate
def test_rate_limit_headers_reach_the_result(provider):
    adapter, path, url = _adapter(provider)
    responses.get(url, json={}, headers=RATE_HEADERS[provider])
    adapter._start()
    assert adapter._request("GET", path) == {}
    result = adapter._result()
    assert result.requests == 1
    limit = float(next(iter(RATE_HEADERS[provider].values())))
    assert result.detail["rate_limit"] == {
        "limit": limit,
        "remaining": 0.0,
        "reset": 9.0,
    }


@pytest.mark.parametrize("provider", sorted(ESPS))
@responses.activate
def test_no_rate_limit_headers_no_detail(provider):
    adapter, path, url = _adapter(provider)
    responses.get(url, json={"ok": True})
    adapter._start()
    assert adapter._request("GET", path) == {"ok": True}
    assert adapter._result().detail == {}


@pytest.mark.parametrize("provider", sorted(ESPS))
@responses.activate
def test_network_error_is_transient_and_counted(provider):
    adapter, path, url = _adapter(provider)
    responses.get(url, body=requests.ConnectionError(f"refused {SECRET}"))
    adapter._start()
    with pytest.raises(EspError) as info:
        adapter._request("GET", path)
    assert info.value.category == ErrorCategory.TRANSIENT
    assert SECRET not in str(info.value)
    assert adapter._count == 1


@pytest.mark.parametrize("provider", sorted(ESPS))
@responses.activate
def test_5xx_carries_retry_after(provider):
    adapter, path, url = _adapter(provider)
    responses.get(url, status=503, json={}, headers={"Retry-After": "11"})
    with pytest.raises(EspError) as info:
        adapter._request("GET", path)
    assert info.value.category == ErrorCategory.TRANSIENT
    assert info.value.retry_after == 11.0


@pytest.mark.parametrize("provider", sorted(ESPS))
@responses.activate
def test_429_without_retry_after_waits_for_the_window(provider):
    adapter, path, url = _adapter(provider)
    responses.get(url, status=429, json={}, headers=RATE_HEADERS[provider])
    with pytest.raises(EspError) as info:
        adapter._request("GET", path)
    assert info.value.category == ErrorCategory.RATE_LIMIT
    assert info.value.retry_after == 9.0
    assert adapter.last_rate_limit["remaining"] == 0.0


@pytest.mark.parametrize(
    ("provider", "wait"), [("klaviyo", None), ("mailchimp", 60.0), ("dotdigital", 60.0)]
)
@responses.activate
def test_429_without_any_hint_uses_the_esp_default(provider, wait):
    adapter, path, url = _adapter(provider)
    responses.get(url, status=429, json={})
    with pytest.raises(EspError) as info:
        adapter._request("GET", path)
    assert info.value.retry_after == wait


@responses.activate
def test_unreadable_retry_after_date_falls_back():
    adapter, path, url = _adapter("mailchimp")
    responses.get(url, status=429, json={}, headers={"Retry-After": "soon-ish"})
    with pytest.raises(EspError) as info:
        adapter._request("GET", path)
    assert info.value.retry_after == 60.0
