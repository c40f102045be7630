"""Fault injection: seeded determinism, outages, fail_next, drop after apply."""

import pytest
import requests

from sandbox.faults import FaultInjector


def _sequence(seed, count=40):
    injector = FaultInjector(lambda: 0.0, seed)
    injector.configure([{"provider": "klaviyo", "p_429": 0.3, "p_5xx": 0.3}])
    return [
        injector.decide("klaviyo", "POST", "/api/events").status for _ in range(count)
    ]


def test_same_seed_same_faults():
    assert _sequence(7) == _sequence(7)
    assert _sequence(7) != _sequence(8)
    found = set(_sequence(7))
    assert 429 in found and found & {500, 502, 503} and 0 in found


def test_endpoint_streams_are_independent():
    injector = FaultInjector(lambda: 0.0, 1)
    injector.configure([{"p_5xx": 0.5}])
    alone = [injector.decide("k", "GET", "/a").status for _ in range(20)]
    injector.configure([{"p_5xx": 0.5}])
    mixed = []
    for _ in range(20):
        mixed.append(injector.decide("k", "GET", "/a").status)
        injector.decide("k", "GET", "/b")
    assert alone == mixed


def test_rules_match_provider_and_endpoint():
    injector = FaultInjector(lambda: 0.0)
    injector.configure([{"provider": "mailchimp", "endpoint": "PUT *", "fail_next": 5}])
    assert injector.decide("klaviyo", "PUT", "/x").status == 0
    assert injector.decide("mailchimp", "GET", "/x").status == 0
    assert injector.decide("mailchimp", "PUT", "/x").status == 503


def test_outage_window():
    now = [100.0]
    injector = FaultInjector(lambda: now[0])
    injector.configure([{"outages": [{"start": 10, "end": 20}]}])
    assert injector.decide("k", "GET", "/").status == 0
    now[0] = 115.0
    fault = injector.decide("k", "GET", "/")
    assert fault.status == 503 and fault.retry_after == 5
    now[0] = 121.0
    assert injector.decide("k", "GET", "/").status == 0


def test_injected_fault_over_http_is_in_provider_shape(sb, klaviyo_client):
    sb.configure(
        faults=[
            {"provider": "klaviyo", "endpoint": "GET /api/accounts", "fail_next": 1}
        ]
    )
    client = klaviyo_client(sb)
    first = client.get("/api/accounts")
    assert first.status_code == 503
    assert first.json()["errors"][0]["status"] == 503
    assert client.get("/api/accounts").status_code == 200
    assert sb.requests("klaviyo")[0]["fault"] == "fail_next"


def test_seeded_faults_over_http_are_reproducible(sb, klaviyo_client):
    def run():
        sb.reset()
        sb.configure(seed=42, faults=[{"provider": "klaviyo", "p_5xx": 0.5}])
        client = klaviyo_client(sb)
        return [client.get("/api/accounts").status_code for _ in range(12)]

    first, second = run(), run()
    assert first == second
    assert 200 in first and any(code >= 500 for code in first)


def test_drop_after_apply_stores_the_data(sb, klaviyo_client):
    sb.configure(
        faults=[
            {
                "provider": "klaviyo",
                "endpoint": "POST /api/profile-import",
                "p_drop_after_apply": 1.0,
            }
        ]
    )
    client = klaviyo_client(sb)
    with pytest.raises(requests.ConnectionError):
        client.upsert(email="ada@example.com")
    sb.configure(faults=[])
    assert client.profile("ada@example.com") is not None
    entry = sb.requests("klaviyo")[0]
    assert entry["fault"] == "drop_after_apply" and entry["status"] == 201


def test_delay(sb, klaviyo_client):
    sb.configure(faults=[{"provider": "klaviyo", "delay_ms": 300}])
    answer = klaviyo_client(sb).get("/api/accounts")
    assert answer.status_code == 200
    assert answer.elapsed.total_seconds() >= 0.25


def test_faults_given_to_the_constructor(klaviyo_client):
    from sandbox import Sandbox

    rules = [{"provider": "klaviyo", "fail_next": 1, "status": 502}]
    with Sandbox(port=0, providers=["klaviyo"], faults=rules) as sandbox:
        assert klaviyo_client(sandbox).get("/api/accounts").status_code == 502
        assert klaviyo_client(sandbox).get("/api/accounts").status_code == 200
