"""The /_sandbox control API, the Python helpers and the HTML page."""

import requests

from sandbox import Sandbox

KEY = "pk_sandbox_alpha"  # the conftest client's default key


def test_health_lists_providers(sb):
    answer = requests.get(f"{sb.url}/_sandbox/health", timeout=5).json()
    assert answer["status"] == "ok" and "klaviyo" in answer["providers"]


def test_request_log_over_http(sb, klaviyo_client):
    klaviyo_client(sb).upsert(email="ada@example.com")
    log = requests.get(
        f"{sb.url}/_sandbox/requests", params={"provider": "klaviyo"}, timeout=5
    ).json()
    assert [entry["path"] for entry in log] == ["/api/profile-import"]
    assert log[0]["headers"]["authorization"] == "***"
    assert KEY not in str(log[0]["headers"])
    assert log[0]["account"] == KEY and log[0]["status"] == 201
    since = requests.get(
        f"{sb.url}/_sandbox/requests", params={"since": log[0]["id"]}, timeout=5
    ).json()
    assert since == []
    requests.delete(f"{sb.url}/_sandbox/requests", timeout=5)
    assert sb.requests() == []


def test_state_reset_and_actions_over_http(sb, klaviyo_client):
    client = klaviyo_client(sb)
    client.upsert(email="ada@example.com")
    state = requests.get(
        f"{sb.url}/_sandbox/state/klaviyo", params={"account": KEY}, timeout=5
    ).json()
    assert len(state["profiles"]) == 1
    answer = requests.post(
        f"{sb.url}/_sandbox/actions/klaviyo/unsubscribe",
        json={"email": "ada@example.com"},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["unsubscribed"]
    assert client.marketing("ada@example.com")["consent"] == "UNSUBSCRIBED"
    missing = requests.post(
        f"{sb.url}/_sandbox/actions/klaviyo/nope", json={}, timeout=5
    )
    assert missing.status_code == 404
    requests.post(f"{sb.url}/_sandbox/reset/klaviyo", timeout=5)
    assert sb.state("klaviyo") == {}
    assert requests.get(f"{sb.url}/_sandbox/state/nobody", timeout=5).status_code == 404


def test_config_over_http(sb):
    answer = requests.post(
        f"{sb.url}/_sandbox/config",
        json={"rate_limits": True, "rate_limit_scale": 0.5, "faults": [{"p_5xx": 0}]},
        timeout=5,
    ).json()
    assert answer["rate_limits"] is True and answer["faults"][0]["p_5xx"] == 0
    assert sb.ratelimiter.enabled and sb.ratelimiter.scale == 0.5
    bad = requests.post(f"{sb.url}/_sandbox/config", data=b"[1]", timeout=5)
    assert bad.status_code == 400


def test_clock_advances(sb):
    before = sb.now()
    answer = requests.post(
        f"{sb.url}/_sandbox/clock", json={"advance": 3600}, timeout=5
    ).json()
    assert answer["now"] >= before + 3600


def test_ui_page_renders(sb, klaviyo_client):
    client = klaviyo_client(sb)
    client.upsert(email="ada@example.com")
    client.event("ada@example.com", unique_id="SO1", OrderId="SO1")
    sb.action("klaviyo", "suppress", email="ada@example.com")
    page = requests.get(f"{sb.url}/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "ada@example.com" in page.text
    assert "Placed Order" in page.text and "USER_SUPPRESSED" in page.text
    only = requests.get(f"{sb.url}/", params={"provider": "klaviyo"}, timeout=5).text
    assert "<h2 id='klaviyo'>" in only and "<h2 id='mailchimp'>" not in only


def test_ui_escapes_html(sb, klaviyo_client):
    klaviyo_client(sb).upsert(email="x@example.com", external_id="<script>")
    sb.apps["klaviyo"].accounts[KEY]["profiles"].popitem()
    klaviyo_client(sb).upsert(external_id="<b>bold</b>")
    page = requests.get(f"{sb.url}/", timeout=5).text
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_missing_provider_module_does_not_stop_the_server():
    with Sandbox(port=0, providers=["klaviyo", "no_such_provider"]) as sandbox:
        assert list(sandbox.apps) == ["klaviyo"]
        answer = requests.get(f"{sandbox.url}/no_such_provider/x", timeout=5)
        assert answer.status_code == 404


def test_python_helpers(sb, klaviyo_client):
    klaviyo_client(sb).upsert(email="ada@example.com")
    assert sb.requests("klaviyo")[0]["method"] == "POST"
    assert sb.base_url("klaviyo") == sb.url + "/klaviyo"
    sb.clear_requests()
    assert sb.requests() == []
    sb.reset()
    assert sb.state("klaviyo") == {}
