"""Mailchimp adapter against the in-process sandbox (end to end)."""

import dataclasses
import datetime
import http.server
import threading
import time

import pytest

from providers import events
from providers.base import BackendSettings, EspError
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter

sandbox = pytest.importorskip("sandbox")
K = events.EventKind
LIST = "aud00001"


@pytest.fixture(scope="module")
def sb():
    with sandbox.Sandbox(port=0, validate=True, rate_limits=False) as running:
        yield running


@pytest.fixture
def mc(sb):
    sb.reset()
    mc_adapter._merge_tags_cache.clear()
    settings = BackendSettings(
        provider="mailchimp",
        base_url=sb.url + "/mailchimp",
        api_key="sandbox-e2e-us1",
        mailchimp_list_id=LIST,
        mailchimp_store_id="odoo-1",
    )
    return MailchimpAdapter(settings)


def member(sb, email):
    state = sb.state("mailchimp", account="sandbox-e2e-us1")
    for item in state["members"][LIST].values():
        if item["email_address"].lower() == email:
            return item
    return None


def test_connection(mc):
    assert "audience" in mc.test_connection()


def test_status_if_new_and_unsubscribed_member_stays_unsubscribed(
    sb, mc, sample_profile, make_consent
):
    subscribed = dataclasses.replace(sample_profile, consent=make_consent())
    mc.upsert_profile(subscribed)
    assert member(sb, "ada@example.com")["status"] == "subscribed"
    sb.action("mailchimp", "unsubscribe", email="ada@example.com")
    mc.upsert_profile(dataclasses.replace(subscribed, first_name="Augusta"))
    found = member(sb, "ada@example.com")
    assert found["status"] == "unsubscribed"
    assert found["merge_fields"]["FNAME"] == "Augusta"
    assert found["merge_fields"]["LOYALTY_TI"] == "gold"

    plain = dataclasses.replace(sample_profile, email="bob@example.com")
    mc.upsert_profile(plain)
    assert member(sb, "bob@example.com")["status"] == "transactional"


def test_tags_added_and_removed(sb, mc, sample_profile):
    # "Black Friday" was added by a marketer: no Odoo category has that name.
    mc.upsert_profile(
        dataclasses.replace(sample_profile, tags=("VIP", "Newsletter", "Black Friday"))
    )
    only_vip = dataclasses.replace(sample_profile, tags=("VIP",))
    # Unconfigured: Odoo owns no tag, so it deactivates none.
    assert mc.upsert_profile(only_vip).detail["tags_removed"] == []
    managed = MailchimpAdapter(
        dataclasses.replace(mc.settings, extra={"managed_tags": ["VIP", "newsletter"]})
    )
    result = managed.upsert_profile(only_vip)
    assert result.detail["tags_removed"] == ["Newsletter"]
    tags = {t["name"] for t in member(sb, "ada@example.com")["tags"]}
    assert tags == {"VIP", "Black Friday"}


def test_order_lifecycle_refund_updates_order(sb, mc, make_order_event, sample_order):
    mc.ensure_store("Odoo shop", "EUR")
    mc.send_order_event(make_order_event(K.PLACED))
    refunded = dataclasses.replace(sample_order, refunded_total=12.0)
    mc.send_order_event(make_order_event(K.REFUNDED, order=refunded))
    store = sb.state("mailchimp", account="sandbox-e2e-us1")["stores"]["odoo-1"]
    order = store["orders"]["42"]
    assert order["financial_status"] == "partially_refunded"
    assert float(order["order_total"]) == 30.0
    # Placing again (a replayed job) updates instead of failing.
    mc.send_order_event(make_order_event(K.PLACED, order=refunded))


def test_batch_with_per_record_errors(sb, mc, sample_profile):
    good = dataclasses.replace(sample_profile, properties={})
    bad = dataclasses.replace(
        sample_profile, email="carol@example.com", properties={"Size": "L"}
    )
    mc._ensure_merge_fields = lambda *a, **k: None  # let the ESP reject SIZE
    job = mc.bulk_import_profiles([good, bad])
    deadline = time.time() + 10
    while not job.done and time.time() < deadline:
        job = mc.get_bulk_job(job)
        time.sleep(0.05)
    assert job.status == "complete"
    assert [key for key, _m in job.errors] == ["carol@example.com"]
    assert member(sb, "ada@example.com") is not None


def test_consent_polling(sb, mc, sample_profile):
    mc.upsert_profile(sample_profile)
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    sb.action("mailchimp", "unsubscribe", email="ada@example.com")
    updates = mc.fetch_consent_updates(since)
    assert [(u.email, u.status) for u in updates] == [
        ("ada@example.com", "unsubscribed")
    ]


def test_wrong_key_is_authentication(sb, mc):
    bad = MailchimpAdapter(dataclasses.replace(mc.settings, api_key="wrong-us1"))
    with pytest.raises(EspError) as info:
        bad.test_connection()
    assert info.value.category.value == "authentication"


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_round_trip(sb, mc, sample_profile):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/esp_sync/mailchimp/s3cret"
        assert mc.register_webhook(url).external_id
        mc.upsert_profile(sample_profile)
        sb.action("mailchimp", "unsubscribe", email="ada@example.com")
        sb.wait_webhooks(timeout=5)
        deadline = time.time() + 5
        while not _Receiver.bodies and time.time() < deadline:
            time.sleep(0.02)
        updates = [u for b in _Receiver.bodies for u in mc.parse_webhook({}, b)]
        assert [(u.email, u.status) for u in updates] == [
            ("ada@example.com", "unsubscribed")
        ]
        assert updates[0].provider_ref == LIST
    finally:
        server.shutdown()
        server.server_close()


def test_first_order_creates_the_missing_store(sandbox_adapter_factory=None):
    """A backend pointed at a store that does not exist yet still syncs."""
    import providers.events as ev
    from providers import BackendSettings
    from providers.mailchimp.adapter import MailchimpAdapter
    from sandbox import Sandbox

    with Sandbox(port=0) as sb:
        adapter = MailchimpAdapter(
            BackendSettings(
                provider="mailchimp",
                base_url=sb.base_url("mailchimp"),
                api_key="sandboxstore-us1",
                mailchimp_list_id="aud00001",
                mailchimp_store_id="new-store",
            )
        )
        line = ev.OrderLine("1", "10", "SKU", "Shoe", 1.0, 50.0, 50.0, variant_id="11")
        order = ev.Order(
            order_id="7",
            name="S00007",
            email="ann@example.com",
            external_id="x",
            placed_at=None,
            currency="EUR",
            total=50.0,
            untaxed=50.0,
            tax=0.0,
            shipping=0.0,
            lines=(line,),
        )
        event = ev.OrderEvent(ev.EventKind.PLACED, "u-7", order, None, 50.0, (line,))
        adapter.send_order_event(event)
        paths = [(r["method"], r["path"]) for r in sb.requests("mailchimp")]
        assert ("POST", "/3.0/ecommerce/stores") in paths
        stores = sb.state("mailchimp")
        assert "new-store" in str(stores)
        assert "S00007" in str(stores) or "'7'" in str(stores)
