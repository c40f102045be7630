"""The Mailchimp emulator over HTTP: auth, members, e-commerce, batches, hooks."""

import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sandbox.mailchimp import DEFAULT_LIST_ID, subscriber_hash

KEY = "sandboxalpha-us1"
OTHER = "sandboxbeta-us1"
LIST = DEFAULT_LIST_ID


class Client:
    """Tiny Mailchimp client for the tests (Basic auth, any user)."""

    def __init__(self, sb, key=KEY):
        self.base = sb.base_url("mailchimp") + "/3.0"
        self.session = requests.Session()
        self.session.auth = ("anystring", key)

    def request(self, method, path, json=None, params=None):
        return self.session.request(
            method, self.base + path, json=json, params=params, timeout=10
        )

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, json=None):
        return self.request("POST", path, json=json)

    def put(self, path, json=None):
        return self.request("PUT", path, json=json)

    def patch(self, path, json=None):
        return self.request("PATCH", path, json=json)

    def delete(self, path):
        return self.request("DELETE", path)


@pytest.fixture
def mc(sb):
    return Client(sb)


def member_path(email, list_id=LIST):
    return f"/lists/{list_id}/members/{subscriber_hash(email)}"


def put_member(mc, email, **body):
    return mc.put(member_path(email), json={"email_address": email, **body})


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


# -- auth and discovery -------------------------------------------------------
def test_auth_accepts_basic_and_bearer_sandbox_keys(sb, mc):
    assert mc.get("/ping").json() == {"health_status": "Everything's Chimpy!"}
    bearer = requests.get(
        sb.base_url("mailchimp") + "/3.0/",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert bearer.status_code == 200
    assert bearer.json()["account_name"]


@pytest.mark.parametrize(
    "headers, title",
    [
        ({}, "API Key Missing"),
        ({"Authorization": "Bearer live-key-us6"}, "API Key Invalid"),
        ({"Authorization": "Bearer sandboxkey-us6"}, "API Key Invalid"),
    ],
)
def test_auth_failures_are_401_problems(sb, headers, title):
    response = requests.get(
        sb.base_url("mailchimp") + "/3.0/lists", headers=headers, timeout=10
    )
    assert problem(response, 401)["title"] == title


def test_each_key_is_its_own_account(sb, mc):
    assert put_member(mc, "ann@example.com", status_if_new="subscribed").ok
    other = Client(sb, OTHER)
    assert other.get(member_path("ann@example.com")).status_code == 404
    assert mc.get(member_path("ann@example.com")).status_code == 200
    lists = other.get("/lists").json()
    assert [x["id"] for x in lists["lists"]] == [LIST]
    assert lists["lists"][0]["name"] == "Sandbox Audience"


def test_unknown_path_is_a_404_problem(mc):
    problem(mc.get("/lists/nope"), 404)
    problem(mc.get("/automations"), 404)


# -- members ------------------------------------------------------------------
def test_put_member_hash_must_match_email(mc):
    response = mc.put(
        member_path("someone@example.com"), json={"email_address": "ann@example.com"}
    )
    body = problem(response, 400)
    assert "does not match" in body["detail"]


def test_status_if_new_applies_only_on_create(mc):
    created = put_member(mc, "ann@example.com", status_if_new="pending")
    assert created.json()["status"] == "pending"
    again = put_member(mc, "ann@example.com", status_if_new="subscribed")
    assert again.json()["status"] == "pending"
    changed = put_member(mc, "ann@example.com", status="subscribed")
    assert changed.json()["status"] == "subscribed"


def test_create_needs_status_if_new(mc):
    body = problem(put_member(mc, "ann@example.com"), 400)
    assert body["errors"][0]["field"] == "status_if_new"
    body = problem(put_member(mc, "ann@example.com", status="subscribed"), 400)
    assert body["errors"][0]["field"] == "status_if_new"
    both = put_member(
        mc, "ann@example.com", status="pending", status_if_new="subscribed"
    )
    assert both.json()["status"] == "subscribed"


def test_resubscribe_in_compliance_state_is_refused(sb, mc):
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    sb.action("mailchimp", "unsubscribe", email="ann@example.com", account=KEY)
    body = problem(put_member(mc, "ann@example.com", status="subscribed"), 400)
    assert body["title"] == "Member In Compliance State"
    assert mc.get(member_path("ann@example.com")).json()["status"] == "unsubscribed"
    # status_if_new does not touch an existing member, so it is not refused
    assert put_member(mc, "ann@example.com", status_if_new="subscribed").ok
    # pending (double opt-in) is allowed for an unsubscribed member
    assert put_member(mc, "ann@example.com", status="pending").json()["status"] == (
        "pending"
    )
    sb.action("mailchimp", "clean", email="ann@example.com", account=KEY)
    patched = mc.patch(member_path("ann@example.com"), json={"status": "subscribed"})
    assert problem(patched, 400)["title"] == "Member In Compliance State"


def test_unknown_merge_field_is_named(mc):
    response = put_member(
        mc,
        "ann@example.com",
        status_if_new="subscribed",
        merge_fields={"FNAME": "Ann", "LOYALTY": "gold"},
    )
    body = problem(response, 400)
    assert "LOYALTY" in body["detail"]
    assert body["errors"] == [
        {
            "field": "LOYALTY",
            "message": "Merge field LOYALTY does not exist on this list.",
        }
    ]


def test_merge_fields_defaults_and_create(mc):
    fields = mc.get(f"/lists/{LIST}/merge-fields").json()
    assert [f["tag"] for f in fields["merge_fields"]] == [
        "FNAME",
        "LNAME",
        "ADDRESS",
        "PHONE",
    ]
    created = mc.post(
        f"/lists/{LIST}/merge-fields",
        json={"name": "Loyalty", "type": "text", "tag": "LOYALTY"},
    )
    assert created.json()["tag"] == "LOYALTY"
    again = mc.post(
        f"/lists/{LIST}/merge-fields",
        json={"name": "Loyalty", "type": "text", "tag": "LOYALTY"},
    )
    problem(again, 400)
    response = put_member(
        mc, "ann@example.com", status_if_new="subscribed", merge_fields={"LOYALTY": "x"}
    )
    assert response.json()["merge_fields"]["LOYALTY"] == "x"


def test_spec_validation_names_the_field(mc):
    body = problem(put_member(mc, "ann@example.com", status_if_new="bogus"), 400)
    assert body["title"] == "Invalid Resource"
    assert body["errors"][0]["field"] == "status_if_new"
    listed = mc.get(f"/lists/{LIST}/members", params={"count": "many"})
    assert problem(listed, 400)["errors"][0]["field"] == "count"


def test_post_member_exists(mc):
    body = {"email_address": "ann@example.com", "status": "subscribed"}
    assert mc.post(f"/lists/{LIST}/members", json=body).status_code == 200
    again = problem(mc.post(f"/lists/{LIST}/members", json=body), 400)
    assert again["title"] == "Member Exists"


def test_list_members_filters(sb, mc):
    put_member(mc, "a@example.com", status_if_new="subscribed")
    put_member(mc, "b@example.com", status_if_new="unsubscribed")
    sb.advance(10)
    put_member(mc, "c@example.com", status_if_new="subscribed")
    subscribed = mc.get(f"/lists/{LIST}/members", params={"status": "subscribed"})
    emails = [m["email_address"] for m in subscribed.json()["members"]]
    assert emails == ["a@example.com", "c@example.com"]
    recent = mc.get(
        f"/lists/{LIST}/members",
        params={"since_last_changed": _iso(sb.now() - 5)},
    ).json()
    assert [m["email_address"] for m in recent["members"]] == ["c@example.com"]
    page = mc.get(f"/lists/{LIST}/members", params={"count": 1, "offset": 1}).json()
    assert page["total_items"] == 3
    assert [m["email_address"] for m in page["members"]] == ["b@example.com"]


def test_patch_and_archive_member(mc):
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    patched = mc.patch(
        member_path("ann@example.com"), json={"merge_fields": {"FNAME": "Ann"}}
    )
    assert patched.json()["merge_fields"]["FNAME"] == "Ann"
    assert mc.delete(member_path("ann@example.com")).status_code == 204
    problem(mc.get(member_path("ann@example.com")), 404)
    problem(mc.patch(member_path("nobody@example.com"), json={}), 404)


def test_tags_add_and_remove(mc):
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    path = member_path("ann@example.com") + "/tags"
    added = mc.post(
        path,
        json={
            "tags": [
                {"name": "VIP", "status": "active"},
                {"name": "Odoo", "status": "active"},
            ]
        },
    )
    assert added.status_code == 204
    assert {t["name"] for t in mc.get(path).json()["tags"]} == {"VIP", "Odoo"}
    mc.post(path, json={"tags": [{"name": "VIP", "status": "inactive"}]})
    assert [t["name"] for t in mc.get(path).json()["tags"]] == ["Odoo"]
    problem(mc.post(path, json={"tags": [{"name": "x"}]}), 400)


def test_member_events(mc):
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    path = member_path("ann@example.com") + "/events"
    assert (
        mc.post(path, json={"name": "order_fulfilled", "properties": {"id": "S1"}})
    ).status_code == 204
    events = mc.get(path).json()["events"]
    assert events[0]["name"] == "order_fulfilled"
    assert events[0]["properties"] == {"id": "S1"}
    problem(mc.post(path, json={"name": "has spaces!"}), 400)
    problem(mc.post(member_path("x@example.com") + "/events", json={"name": "ok"}), 404)


def test_batch_subscribe_reports_per_member_errors(sb, mc):
    put_member(mc, "old@example.com", status_if_new="subscribed")
    put_member(mc, "gone@example.com", status_if_new="subscribed")
    sb.action("mailchimp", "unsubscribe", email="gone@example.com", account=KEY)
    members = [
        {"email_address": "new@example.com", "status": "subscribed"},
        {"email_address": "old@example.com", "status": "subscribed"},
        {"email_address": "not-an-email", "status": "subscribed"},
        {"email_address": "gone@example.com", "status": "subscribed"},
        {
            "email_address": "bad@example.com",
            "status": "subscribed",
            "merge_fields": {"NOPE": 1},
        },
    ]
    result = mc.post(f"/lists/{LIST}", json={"members": members}).json()
    assert [m["email_address"] for m in result["new_members"]] == ["new@example.com"]
    assert result["total_updated"] == 0
    codes = {e["email_address"]: e["error_code"] for e in result["errors"]}
    assert codes["old@example.com"] == "ERROR_CONTACT_EXISTS"
    assert set(codes) == {
        "old@example.com",
        "not-an-email",
        "gone@example.com",
        "bad@example.com",
    }
    result = mc.post(
        f"/lists/{LIST}",
        json={
            "members": [{"email_address": "old@example.com", "status": "pending"}],
            "update_existing": True,
        },
    ).json()
    assert [m["status"] for m in result["updated_members"]] == ["pending"]
    too_many = [
        {"email_address": f"u{i}@example.com", "status": "subscribed"}
        for i in range(501)
    ]
    problem(mc.post(f"/lists/{LIST}", json={"members": too_many}), 400)


def test_create_list(mc):
    body = {
        "name": "Second",
        "permission_reminder": "You signed up",
        "email_type_option": False,
        "contact": {"company": "Co", "address1": "1 St", "city": "X", "country": "US"},
        "campaign_defaults": {
            "from_name": "Co",
            "from_email": "co@example.com",
            "subject": "Hi",
            "language": "en",
        },
    }
    created = mc.post("/lists", json=body).json()
    assert created["name"] == "Second"
    assert len(mc.get("/lists").json()["lists"]) == 2
    problem(mc.post("/lists", json={"name": "incomplete"}), 400)


# -- e-commerce ---------------------------------------------------------------
STORE = "/ecommerce/stores/odoo-1"


def make_store(mc):
    body = {"id": "odoo-1", "list_id": LIST, "name": "Odoo", "currency_code": "EUR"}
    response = mc.post("/ecommerce/stores", json=body)
    assert response.status_code == 200, response.text
    mc.post(
        STORE + "/products",
        json={"id": "P1", "title": "Mug", "variants": [{"id": "P1", "title": "Mug"}]},
    )


def order_body(order_id="SO1", product="P1", variant="P1"):
    return {
        "id": order_id,
        "customer": {
            "id": "C1",
            "email_address": "buyer@example.com",
            "opt_in_status": False,
        },
        "currency_code": "EUR",
        "order_total": 12.5,
        "financial_status": "paid",
        "lines": [
            {
                "id": "L1",
                "product_id": product,
                "product_variant_id": variant,
                "quantity": 1,
                "price": 12.5,
            }
        ],
    }


def test_store_lifecycle(mc):
    make_store(mc)
    assert mc.get(STORE).json()["is_syncing"] is False
    assert mc.patch(STORE, json={"is_syncing": True}).json()["is_syncing"] is True
    dup = {"id": "odoo-1", "list_id": LIST, "name": "Odoo", "currency_code": "EUR"}
    problem(mc.post("/ecommerce/stores", json=dup), 400)
    bad_list = {"id": "s2", "list_id": "nope", "name": "X", "currency_code": "EUR"}
    problem(mc.post("/ecommerce/stores", json=bad_list), 400)


def test_order_with_unknown_product_is_refused(mc):
    make_store(mc)
    body = problem(mc.post(STORE + "/orders", json=order_body(product="P404")), 400)
    assert body["detail"] == (
        "A product with the provided ID does not exist in the account for this list."
    )
    body = problem(mc.post(STORE + "/orders", json=order_body(variant="V404")), 400)
    assert "variant ID" in body["detail"]
    problem(mc.get(STORE + "/orders/SO1"), 404)


def test_order_creates_customer_and_transactional_member(mc):
    make_store(mc)
    created = mc.post(STORE + "/orders", json=order_body())
    assert created.status_code == 200, created.text
    customer = mc.get(STORE + "/customers/C1").json()
    assert customer["orders_count"] == 1
    member = mc.get(member_path("buyer@example.com")).json()
    assert member["status"] == "transactional"
    problem(mc.post(STORE + "/orders", json=order_body()), 400)


def test_order_update_to_refunded(mc):
    make_store(mc)
    mc.post(STORE + "/orders", json=order_body())
    patched = mc.patch(
        STORE + "/orders/SO1",
        json={"financial_status": "refunded", "fulfillment_status": "shipped"},
    )
    assert patched.status_code == 200, patched.text
    order = mc.get(STORE + "/orders/SO1").json()
    assert order["financial_status"] == "refunded"
    assert order["fulfillment_status"] == "shipped"
    assert order["lines"][0]["product_id"] == "P1"


def test_customer_put_does_not_override_member_status(mc):
    make_store(mc)
    put_member(mc, "ann@example.com", status_if_new="unsubscribed")
    response = mc.put(
        STORE + "/customers/C9",
        json={"id": "C9", "email_address": "ann@example.com", "opt_in_status": True},
    )
    assert response.status_code == 200, response.text
    assert mc.get(member_path("ann@example.com")).json()["status"] == "unsubscribed"


def test_product_put_and_delete(mc):
    make_store(mc)
    put = mc.put(
        STORE + "/products/P2",
        json={"id": "P2", "title": "Cup", "variants": [{"id": "P2", "title": "Cup"}]},
    )
    assert put.json()["title"] == "Cup"
    assert len(mc.get(STORE + "/products").json()["products"]) == 2
    assert mc.delete(STORE + "/products/P2").status_code == 204
    problem(mc.get(STORE + "/products/P2"), 404)


# -- batches ------------------------------------------------------------------
def test_batch_lifecycle_with_per_operation_errors(sb, mc):
    sb.configure(job_seconds=30)
    ok_body = '{"email_address": "ann@example.com", "status_if_new": "subscribed"}'
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{LIST}/members/{subscriber_hash('ann@example.com')}",
            "body": ok_body,
            "operation_id": "op-ok",
        },
        {
            "method": "PUT",
            "path": f"/lists/{LIST}/members/{subscriber_hash('x@example.com')}",
            "body": '{"email_address": "ann@example.com", "status": "subscribed"}',
            "operation_id": "op-mismatch",
        },
        {"method": "GET", "path": "/lists/nope", "operation_id": "op-404"},
    ]
    batch = mc.post("/batches", json={"operations": operations}).json()
    assert batch["status"] == "pending"
    assert batch["total_operations"] == 3
    assert mc.get(member_path("ann@example.com")).status_code == 404
    sb.advance(16)
    assert mc.get(f"/batches/{batch['id']}").json()["status"] == "started"
    sb.advance(15)
    done = _wait_batch(mc, batch["id"])
    assert done["finished_operations"] == 3
    assert done["errored_operations"] == 2
    results = requests.get(done["response_body_url"], timeout=10).json()
    by_op = {r["operation_id"]: r["status_code"] for r in results}
    assert by_op == {"op-ok": 200, "op-mismatch": 400, "op-404": 404}
    assert mc.get(member_path("ann@example.com")).json()["status"] == "subscribed"
    listed = mc.get("/batches").json()
    assert [b["id"] for b in listed["batches"]] == [batch["id"]]


def test_batch_runs_without_polling(sb, mc):
    sb.configure(job_seconds=0.1)
    operations = [
        {
            "method": "POST",
            "path": f"/lists/{LIST}/members",
            "body": '{"email_address": "bee@example.com", "status": "subscribed"}',
        }
    ]
    mc.post("/batches", json={"operations": operations})
    deadline = time.time() + 5
    while mc.get(member_path("bee@example.com")).status_code != 200:
        assert time.time() < deadline
        time.sleep(0.05)


def _wait_batch(mc, batch_id):
    deadline = time.time() + 5
    while True:
        batch = mc.get(f"/batches/{batch_id}").json()
        if batch["status"] == "finished" or time.time() > deadline:
            return batch
        time.sleep(0.02)


# -- webhooks -----------------------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Receiver.received
    server.shutdown()
    server.server_close()


def test_unsubscribe_fires_list_webhook(sb, mc, receiver):
    server, received = receiver
    url = f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cret"
    hook = mc.post(
        f"/lists/{LIST}/webhooks",
        json={
            "url": url,
            "events": {"unsubscribe": True, "cleaned": True, "subscribe": False},
            "sources": {"user": True, "admin": True, "api": False},
        },
    ).json()
    assert mc.get(f"/lists/{LIST}/webhooks").json()["total_items"] == 1
    put_member(
        mc, "ann@example.com", status_if_new="subscribed", merge_fields={"FNAME": "Ann"}
    )
    result = sb.action("mailchimp", "unsubscribe", email="ann@example.com", account=KEY)
    assert result["webhooks"] == 1
    assert sb.wait_webhooks(5)
    path, content_type, body = received[0]
    assert path == "/hook?token=s3cret"
    assert content_type == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(body))
    assert form["type"] == "unsubscribe"
    assert form["data[action]"] == "unsub"
    assert form["data[reason]"] == "manual"
    assert form["data[list_id]"] == LIST
    assert form["data[email]"] == "ann@example.com"
    assert form["data[merges][EMAIL]"] == "ann@example.com"
    assert form["data[merges][FNAME]"] == "Ann"
    assert len(form["fired_at"]) == 19
    sb.action("mailchimp", "clean", email="ann@example.com", account=KEY)
    assert sb.wait_webhooks(5)
    form = dict(urllib.parse.parse_qsl(received[1][2]))
    assert form["type"] == "cleaned"
    assert form["data[reason]"] == "hard"
    # API-made changes do not fire for a hook without the "api" source
    put_member(mc, "bob@example.com", status_if_new="unsubscribed")
    assert sb.wait_webhooks(5)
    assert len(received) == 2
    assert mc.delete(f"/lists/{LIST}/webhooks/{hook['id']}").status_code == 204
    problem(mc.get(f"/lists/{LIST}/webhooks/{hook['id']}"), 404)


# -- rate limits --------------------------------------------------------------
def test_ten_concurrent_connections_per_key(sb):
    sb.configure(rate_limits=True)
    app = sb.apps["mailchimp"]
    original = app._ping

    def slow_ping(request, state):
        time.sleep(0.15)
        return original(request, state)

    app._ping = slow_ping
    statuses = []
    try:
        barrier = threading.Barrier(13)

        def call(key):
            barrier.wait()
            response = requests.get(
                sb.base_url("mailchimp") + "/3.0/ping", auth=("u", key), timeout=10
            )
            statuses.append((key, response.status_code))

        threads = [threading.Thread(target=call, args=(KEY,)) for _ in range(12)]
        threads.append(threading.Thread(target=call, args=(OTHER,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        del app._ping
    mine = [s for k, s in statuses if k == KEY]
    assert mine.count(200) == 10
    assert mine.count(429) == 2
    assert (OTHER, 200) in statuses


def test_rate_limit_off_by_default(sb, mc):
    assert all(mc.get("/ping").status_code == 200 for _ in range(20))


def _iso(ts):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def test_api_changes_fire_hooks_with_the_api_source(sb, mc, receiver):
    server, received = receiver
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    mc.post(
        f"/lists/{LIST}/webhooks",
        json={
            "url": url,
            "events": {
                "subscribe": True,
                "unsubscribe": True,
                "profile": True,
                "upemail": True,
            },
            "sources": {"api": True},
        },
    )
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    mc.patch(member_path("ann@example.com"), json={"merge_fields": {"FNAME": "A"}})
    # Only a member not in a compliance state may change its address.
    mc.patch(member_path("ann@example.com"), json={"email_address": "ann@new.example"})
    put_member(mc, "ann@new.example", status="unsubscribed")
    assert sb.wait_webhooks(5)
    forms = [dict(urllib.parse.parse_qsl(body)) for _p, _c, body in received]
    by_type = {form["type"]: form for form in forms}
    assert sorted(by_type) == ["profile", "subscribe", "unsubscribe", "upemail"]
    assert by_type["upemail"]["data[old_email]"] == "ann@example.com"
    assert by_type["upemail"]["data[new_email]"] == "ann@new.example"
    assert mc.get(member_path("ann@new.example")).status_code == 200


def test_state_and_page_show_members_and_orders(sb, mc):
    make_store(mc)
    mc.post(STORE + "/orders", json=order_body())
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    mc.post(member_path("ann@example.com") + "/events", json={"name": "signed_up"})
    state = sb.state("mailchimp", KEY)
    assert set(state["members"][LIST]) == {
        subscriber_hash("ann@example.com"),
        subscriber_hash("buyer@example.com"),
    }
    rows = {row["email"]: row for row in sb.apps["mailchimp"].ui_rows()}
    assert rows["ann@example.com"]["consent"] == "subscribed"
    assert rows["ann@example.com"]["events"][0]["name"] == "signed_up"
    assert rows["buyer@example.com"]["events"][0]["name"] == "order SO1"
    page = requests.get(sb.url + "/?provider=mailchimp", timeout=10).text
    assert "buyer@example.com" in page
    assert "order SO1" in page


def test_permanently_deleted_member_cannot_be_re_added(mc):
    put_member(mc, "ann@example.com", status_if_new="subscribed")
    erase = mc.post(member_path("ann@example.com") + "/actions/delete-permanent")
    assert erase.status_code == 204
    problem(mc.get(member_path("ann@example.com")), 404)
    again = problem(put_member(mc, "ann@example.com", status_if_new="subscribed"), 400)
    assert again["title"] == "Forgotten Email Not Subscribed"


def test_batch_operation_path_may_carry_a_query(sb, mc):
    sb.configure(job_seconds=0)
    mc.post(
        f"/lists/{LIST}/merge-fields",
        json={"name": "Club", "type": "text", "tag": "CLUB", "required": True},
    )
    body = '{"email_address": "ann@example.com", "status": "subscribed"}'
    operations = [
        {"method": "POST", "path": f"/lists/{LIST}/members", "body": body},
        {
            "method": "POST",
            "path": f"/lists/{LIST}/members?skip_merge_validation=true",
            "body": body,
        },
    ]
    batch = mc.post("/batches", json={"operations": operations}).json()
    done = _wait_batch(mc, batch["id"])
    results = requests.get(done["response_body_url"], timeout=10).json()
    assert [r["status_code"] for r in results] == [400, 200]
    assert "CLUB" in results[0]["response"]


def test_product_variants(mc):
    make_store(mc)
    path = STORE + "/products/P1/variants"
    assert mc.put(path + "/P1-L", json={"title": "Mug L"}).json()["id"] == "P1-L"
    assert [v["id"] for v in mc.get(path).json()["variants"]] == ["P1", "P1-L"]
    order = order_body(variant="P1-L")
    assert mc.post(STORE + "/orders", json=order).status_code == 200
    assert mc.patch(path + "/P1-L", json={"price": 3}).json()["price"] == 3
    assert mc.delete(path + "/P1-L").status_code == 204
    problem(mc.get(path + "/P1-L"), 404)
    problem(mc.post(STORE + "/orders", json=order_body("SO2", variant="P1-L")), 400)


def test_reset_drops_pending_batches(sb, mc):
    sb.configure(job_seconds=0.2)
    body = '{"email_address": "ann@example.com", "status": "subscribed"}'
    operations = [{"method": "POST", "path": f"/lists/{LIST}/members", "body": body}]
    mc.post("/batches", json={"operations": operations})
    sb.reset("mailchimp")
    time.sleep(0.4)
    problem(mc.get(member_path("ann@example.com")), 404)


def test_member_path_by_email_is_percent_decoded(mc):
    email = "user+tag@example.com"
    assert put_member(mc, email, status_if_new="subscribed").status_code == 200
    for raw in (email, urllib.parse.quote(email, safe="@")):
        answer = mc.get(f"/lists/{LIST}/members/{raw}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["email_address"] == email


def test_confirm_opt_in_turns_pending_into_subscribed_and_fires_subscribe(
    sb, mc, receiver
):
    server, received = receiver
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    mc.post(
        f"/lists/{LIST}/webhooks",
        json={
            "url": url,
            "events": {"subscribe": True, "unsubscribe": True},
            "sources": {"user": True, "admin": True, "api": False},
        },
    )
    put_member(mc, "ann@example.com", status_if_new="pending")
    result = sb.action(
        "mailchimp", "confirm_opt_in", email="ann@example.com", account=KEY
    )
    assert result["member"]["status"] == "subscribed"
    assert result["webhooks"] == 1
    assert sb.wait_webhooks(5)
    form = dict(urllib.parse.parse_qsl(received[0][2]))
    assert form["type"] == "subscribe"
    assert form["data[email]"] == "ann@example.com"
    # A second click, or one on a member no longer pending, changes nothing.
    again = sb.action(
        "mailchimp", "confirm_opt_in", email="ann@example.com", account=KEY
    )
    assert again["webhooks"] == 0
