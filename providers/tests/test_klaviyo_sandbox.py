"""KlaviyoAdapter end to end against the in-process sandbox (loopback only)."""

import datetime
import http.server
import threading
import time

import pytest

from providers import events
from providers.base import BackendSettings, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter

sandbox = pytest.importorskip("sandbox")
KEY = "pk_sandbox_klaviyo_e2e"
SECRET = "sandbox-webhook-secret-0123"


def _adapter(sb, key=KEY, **settings):
    settings.setdefault("webhook_secret", SECRET)
    return KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo",
            base_url=sb.base_url("klaviyo"),
            api_key=key,
            timeout=5,
            **settings,
        )
    )


@pytest.fixture
def adapter(sb):
    return _adapter(sb)


def _profiles(sb, key=KEY):
    state = sb.state("klaviyo")[key]
    return {p["email"]: p for p in state["profiles"].values()}


def _metrics(sb, key=KEY):
    return sorted(e["metric"] for e in sb.state("klaviyo")[key]["events"])


def _create_list(adapter, name="Newsletter"):
    body = {"data": {"type": "list", "attributes": {"name": name}}}
    return adapter._request("POST", "/api/lists", json=body)["data"]["id"]


def test_connection(adapter):
    assert adapter.test_connection().startswith("Klaviyo account ")


def test_profile_then_order_events_are_idempotent(sb, adapter, sample_profile):
    profile_id = adapter.upsert_profile(sample_profile).external_id
    profile = _profiles(sb)["ada@example.com"]
    assert profile["id"] == profile_id
    assert profile["phone_number"] == "+442079460958"
    assert profile["location"]["city"] == "London"
    assert profile["properties"]["Odoo Tags"] == ["VIP", "Newsletter"]
    # A second upsert updates the same profile (keyed by email).
    again = events.Profile(email="ada@example.com", external_id="res.partner-7")
    assert adapter.upsert_profile(again).external_id == profile_id
    assert len(_profiles(sb)) == 1


def test_repeated_event_is_stored_once(sb, adapter, make_order_event):
    placed = make_order_event()
    assert adapter.send_order_event(placed).requests == 3
    assert adapter.send_order_event(placed).requests == 3  # a retried job
    fulfilled = make_order_event(events.EventKind.FULFILLED, reference="WH/OUT/1")
    adapter.send_order_event(fulfilled)
    assert _metrics(sb) == [
        "Fulfilled Order",
        "Ordered Product",
        "Ordered Product",
        "Placed Order",
    ]
    stored = sb.state("klaviyo")[KEY]["events"]
    placed_event = next(e for e in stored if e["metric"] == "Placed Order")
    assert placed_event["value"] == 42.0
    assert placed_event["properties"]["OrderName"] == "S00042"
    assert not [r for r in sb.requests("klaviyo") if r.get("status", 200) >= 400]


def test_subscribe_unsubscribe_and_poll(sb, make_consent):
    list_id = _create_list(_adapter(sb))
    adapter = _adapter(sb, klaviyo_list_id=list_id, consent_source="Odoo Shop")
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=5
    )
    past = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.timezone.utc)
    adapter.update_consent(make_consent(consented_at=past, source=""))
    email = _profiles(sb)["ada@example.com"]["subscriptions"]["email"]
    assert email["consent"] == "SUBSCRIBED"
    assert email["custom_method_detail"] == "Odoo Shop"
    assert list_id in _profiles(sb)["ada@example.com"]["lists"]

    adapter.update_consent(make_consent(events.ConsentStatus.UNSUBSCRIBED))
    email = _profiles(sb)["ada@example.com"]["subscriptions"]["email"]
    assert email["consent"] == "UNSUBSCRIBED"
    updates = adapter.fetch_consent_updates(before)
    assert [(u.email, u.status) for u in updates] == [
        ("ada@example.com", "unsubscribed")
    ]
    # Nothing changed after the last poll.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    assert adapter.fetch_consent_updates(later) == []


def test_never_opted_in_sends_nothing(sb, adapter, make_consent):
    result = adapter.update_consent(make_consent(events.ConsentStatus.NEVER))
    assert result.skipped_reason
    assert not sb.requests("klaviyo")


def test_suppress_and_esp_side_bounce(sb, adapter, make_consent):
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    adapter.update_consent(make_consent(suppressed=True))
    sb.action(
        "klaviyo",
        "suppress",
        email="bob@example.com",
        reason="HARD_BOUNCE",
        account=KEY,
    )
    updates = {u.email: u for u in adapter.fetch_consent_updates(since)}
    assert updates["ada@example.com"].status == "suppressed"
    assert updates["bob@example.com"].status == "cleaned"
    assert updates["bob@example.com"].reason == "HARD_BOUNCE"


def test_bulk_import_job_to_completion(sb, adapter):
    profiles = [
        events.Profile(email=f"bulk{i}@example.com", external_id=str(i))
        for i in range(3)
    ]
    job = adapter.bulk_import_profiles(profiles)
    assert job.job_id and job.total == 3
    for _attempt in range(20):
        job = adapter.get_bulk_job(job)
        if job.done:
            break
        time.sleep(0.05)
    assert job.status == "complete"
    assert (job.completed, job.failed) == (3, 0)
    assert {f"bulk{i}@example.com" for i in range(3)} <= set(_profiles(sb))


def test_bulk_import_reports_rejected_profiles(sb, adapter):
    profiles = [
        events.Profile(email="ok@example.com", external_id="1"),
        events.Profile(email="not-an-email", external_id="2"),
    ]
    job = adapter.get_bulk_job(adapter.bulk_import_profiles(profiles))
    for _attempt in range(20):
        if job.done:
            break
        time.sleep(0.05)
        job = adapter.get_bulk_job(job)
    assert (job.status, job.completed, job.failed) == ("complete", 1, 1)
    assert len(job.errors) == 1
    key, message = job.errors[0]
    assert key == "not-an-email"
    assert "not-an-email" in message


def test_bulk_events(sb, adapter, make_order_event):
    placed = make_order_event(backfill=True)
    refunded = make_order_event(events.EventKind.REFUNDED, value=12.0, lines=())
    job = adapter.bulk_send_events([placed, refunded])
    assert job.done and job.total == 4
    adapter.bulk_send_events([placed])  # replayed backfill: no duplicates
    assert _metrics(sb) == [
        "Ordered Product",
        "Ordered Product",
        "Placed Order",
        "Refunded Order",
    ]


def test_catalog_create_update_and_inventory(sb, adapter):
    item = events.CatalogItem(
        external_id="tmpl-5",
        title="Tea Pot",
        description="A pot",
        url="https://shop.example.com/p/5",
        image_url="https://shop.example.com/p/5.png",
        price=30.0,
        currency="EUR",
        variants=(
            events.CatalogVariant(
                external_id="prod-51",
                sku="TP-RED",
                title="Tea Pot (red)",
                price=30.0,
                inventory_quantity=4.0,
            ),
        ),
    )
    assert adapter.upsert_catalog_item(item).detail["created"] is True
    renamed = events.CatalogItem(**{**item.__dict__, "title": "Teapot"})
    result = adapter.upsert_catalog_item(renamed)
    assert result.detail["created"] is False
    assert result.requests == 4
    result = adapter.update_inventory([events.InventoryLevel("prod-51", "TP-RED", 1.0)])
    assert result.detail["missing"] == []
    state = sb.state("klaviyo")[KEY]
    items = list(state["catalog_items"].values())
    variants = list(state["catalog_variants"].values())
    assert [i["title"] for i in items] == ["Teapot"]
    assert [v["inventory_quantity"] for v in variants] == [1.0]


def test_errors_from_the_sandbox(sb, adapter):
    bad_key = _adapter(sb, key="pk_live_not_a_sandbox_key")
    with pytest.raises(EspError) as info:
        bad_key.test_connection()
    assert info.value.category == ErrorCategory.AUTHENTICATION
    assert "pk_live_not_a_sandbox_key" not in str(info.value)
    with pytest.raises(EspError) as info:
        adapter.upsert_profile(events.Profile(email="not-an-email", external_id="1"))
    assert info.value.category == ErrorCategory.DATA
    assert info.value.field == "email"


def test_accounts_are_isolated(sb, sample_profile):
    other_key = "pk_sandbox_other_company"
    first = _adapter(sb).upsert_profile(sample_profile).external_id
    renamed = events.Profile(
        email=sample_profile.email, external_id="other-7", first_name="Augusta"
    )
    second = _adapter(sb, key=other_key).upsert_profile(renamed).external_id
    mine, theirs = _profiles(sb)[sample_profile.email], _profiles(sb, other_key)
    assert mine["first_name"] == "Ada"
    assert theirs[sample_profile.email]["first_name"] == "Augusta"
    assert (mine["id"], theirs[sample_profile.email]["id"]) == (first, second)


class _Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((dict(self.headers.items()), raw))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/klaviyo/webhook", _Receiver
    server.shutdown()
    server.server_close()


def test_signed_webhook_from_the_sandbox(sb, adapter, sample_profile, receiver):
    url, handler = receiver
    adapter.upsert_profile(sample_profile)
    body = {
        "data": {
            "type": "webhook",
            "attributes": {"name": "Odoo", "endpoint_url": url, "secret_key": SECRET},
            "relationships": {
                "webhook-topics": {
                    "data": [
                        {
                            "type": "webhook-topic",
                            "id": "event:klaviyo.unsubscribed_from_email_marketing",
                        }
                    ]
                }
            },
        }
    }
    adapter._request("POST", "/api/webhooks", json=body)
    sb.action("klaviyo", "unsubscribe", email="ada@example.com")
    assert sb.wait_webhooks(5)
    assert len(handler.received) == 1
    headers, raw = handler.received[0]
    updates = adapter.parse_webhook(headers, raw)
    assert [(u.email, u.status) for u in updates] == [
        ("ada@example.com", "unsubscribed")
    ]
    wrong = _adapter(sb, webhook_secret="another-secret-0000")
    with pytest.raises(EspError) as info:
        wrong.parse_webhook(headers, raw)
    assert info.value.category == ErrorCategory.AUTHENTICATION


def test_rate_limit_answer_carries_retry_after(sb, adapter):
    sb.configure(rate_limits=True, rate_limit_scale=0.01)
    profiles = [
        events.Profile(email=f"r{i}@example.com", external_id="1") for i in range(5)
    ]
    with pytest.raises(EspError) as info:
        for profile in profiles:
            adapter.upsert_profile(profile)
    assert info.value.category == ErrorCategory.RATE_LIMIT
    assert info.value.retry_after and info.value.retry_after > 0


def test_dropped_answer_then_retry_stores_one_event(sb, adapter, make_order_event):
    """The socket closes after Klaviyo applied the event: the retry is harmless."""
    event = make_order_event(events.EventKind.FULFILLED, reference="WH/OUT/9")
    sb.configure(
        faults=[
            {
                "provider": "klaviyo",
                "endpoint": "POST /api/events",
                "p_drop_after_apply": 1.0,
            }
        ]
    )
    with pytest.raises(EspError) as info:
        adapter.send_order_event(event)
    assert info.value.category == ErrorCategory.TRANSIENT
    sb.configure(faults=[])
    adapter.send_order_event(event)
    assert _metrics(sb) == ["Fulfilled Order"]


def test_server_errors_are_transient(sb, adapter, sample_profile):
    sb.configure(faults=[{"provider": "klaviyo", "fail_next": 1, "status": 503}])
    with pytest.raises(EspError) as info:
        adapter.upsert_profile(sample_profile)
    assert info.value.category == ErrorCategory.TRANSIENT
    assert info.value.status == 503
    assert adapter.upsert_profile(sample_profile).external_id
