"""The Klaviyo emulator, driven with hand-written requests."""

import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sandbox.klaviyo import sign_webhook

KEY = "pk_sandbox_alpha"  # the conftest client's default key
OTHER_KEY = "pk_sandbox_beta"
JSONAPI = "application/vnd.api+json"


# -- protocol ------------------------------------------------------------------------
def test_accounts_answers_with_jsonapi(kl):
    answer = kl.get("/api/accounts")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == JSONAPI
    assert answer.json()["data"][0]["type"] == "account"


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer pk_sandbox_alpha", "authentication_failed"),
        ("Klaviyo-API-Key pk_live_123", "authentication_failed"),
    ],
)
def test_bad_credentials_are_401(sb, auth, code):
    sent = {"revision": "2026-07-15"}
    if auth:
        sent["Authorization"] = auth
    answer = requests.get(f"{sb.url}/klaviyo/api/accounts", headers=sent, timeout=5)
    assert answer.status_code == 401
    (error,) = answer.json()["errors"]
    assert error["code"] == code and error["status"] == 401
    assert {"id", "title", "detail", "source"} <= set(error)


def test_missing_revision_is_400(sb, kl):
    answer = requests.get(
        f"{sb.url}/klaviyo/api/accounts", headers=kl.headers(revision=None), timeout=5
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"] == {"parameter": "revision"}


def test_spec_violation_names_the_field(kl):
    answer = kl.upsert(email="ada@example.com", first_name=12)
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["source"]["pointer"] == "/data/attributes/first_name"
    assert error["code"] == "invalid"


def test_validation_can_be_switched_off(sb, kl):
    sb.configure(validate=False)
    answer = kl.upsert(email="ada@example.com", first_name=12)
    assert answer.status_code == 201


def test_bad_query_parameter_names_the_parameter(kl):
    answer = kl.get("/api/profiles", **{"page[size]": "500"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"] == {"parameter": "page[size]"}


def test_malformed_json_unknown_path_and_method(sb, kl):
    answer = requests.post(
        kl.base + "/api/profile-import", data=b"{oops", headers=kl.headers(), timeout=5
    )
    assert answer.status_code == 400
    assert "Malformed JSON" in answer.json()["errors"][0]["detail"]
    answer = kl.get("/api/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["code"] == "not_found"
    answer = requests.put(
        kl.base + "/api/profile-import", headers=kl.headers(), timeout=5
    )
    assert answer.status_code == 405


# -- profiles ------------------------------------------------------------------------
def test_profile_import_creates_then_updates(kl):
    first = kl.upsert(email="Ada@Example.com", first_name="Ada", properties={"a": 1})
    assert first.status_code == 201
    profile_id = first.json()["data"]["id"]
    second = kl.upsert(email="ada@example.com", last_name="Lovelace")
    assert second.status_code == 200
    assert second.json()["data"]["id"] == profile_id
    attributes = second.json()["data"]["attributes"]
    assert attributes["first_name"] == "Ada" and attributes["last_name"] == "Lovelace"
    assert attributes["email"] == "ada@example.com"


def test_null_clears_and_properties_merge(kl):
    kl.upsert(email="ada@example.com", first_name="Ada", properties={"a": 1, "b": 2})
    answer = kl.upsert(
        email="ada@example.com", first_name=None, properties={"a": None, "c": 3}
    )
    attributes = answer.json()["data"]["attributes"]
    assert attributes["first_name"] is None
    assert attributes["properties"] == {"b": 2, "c": 3}


def test_upsert_by_external_id_and_conflict(kl):
    kl.upsert(email="a@example.com", external_id="P1")
    answer = kl.upsert(external_id="P1", first_name="By id")
    assert answer.status_code == 200
    assert answer.json()["data"]["attributes"]["email"] == "a@example.com"
    kl.upsert(email="b@example.com", external_id="P2")
    conflict = kl.upsert(email="a@example.com", external_id="P2")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["code"] == "duplicate_profile"


def test_invalid_email_is_400_with_pointer(kl):
    answer = kl.upsert(email="not-an-email")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"]["pointer"] == "/data/attributes/email"


def test_get_profile_and_filters(kl):
    profile_id = kl.upsert(email="ada@example.com").json()["data"]["id"]
    kl.upsert(email="bob@example.com")
    assert kl.get(f"/api/profiles/{profile_id}").json()["data"]["id"] == profile_id
    assert kl.get("/api/profiles/NOPE").status_code == 404
    found = kl.get("/api/profiles", filter="any(email,['bob@example.com','x@y.z'])")
    assert [p["attributes"]["email"] for p in found.json()["data"]] == [
        "bob@example.com"
    ]
    bad = kl.get("/api/profiles", filter="contains(email,'ada')")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"] == {"parameter": "filter"}


def test_pagination(kl):
    for index in range(5):
        kl.upsert(email=f"p{index}@example.com")
    page = kl.get("/api/profiles", **{"page[size]": "2"}).json()
    assert len(page["data"]) == 2 and page["links"]["next"]
    seen = [p["id"] for p in page["data"]]
    while page["links"]["next"]:
        page = requests.get(
            page["links"]["next"], headers=kl.headers(), timeout=5
        ).json()
        seen += [p["id"] for p in page["data"]]
    assert len(set(seen)) == 5


def test_next_link_keeps_the_filter(kl):
    for index in range(5):
        kl.upsert(email=f"keep{index}@example.com")
    kl.upsert(email="other@example.org")
    wanted = "any(email,[{}])".format(
        ",".join(f'"keep{index}@example.com"' for index in range(5))
    )
    page = kl.get("/api/profiles", **{"page[size]": "2", "filter": wanted}).json()
    seen = [p["attributes"]["email"] for p in page["data"]]
    while page["links"]["next"]:
        page = requests.get(
            page["links"]["next"], headers=kl.headers(), timeout=5
        ).json()
        seen += [p["attributes"]["email"] for p in page["data"]]
    assert "other@example.org" not in seen
    assert len([e for e in seen if e.startswith("keep")]) == 5


def test_oversized_profile_is_413(kl):
    answer = kl.upsert(email="big@example.com", properties={"blob": "x" * 110_000})
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["status"] == 413


def test_oversized_bulk_request_is_413(sb, kl):
    answer = requests.post(
        kl.base + "/api/profile-bulk-import-jobs",
        data=b"x" * (5 * 1024 * 1024 + 1),
        headers=kl.headers(),
        timeout=20,
    )
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["code"] == "payload_too_large"


def test_accounts_are_isolated(sb, kl, klaviyo_client):
    kl.upsert(email="ada@example.com")
    other = klaviyo_client(sb, OTHER_KEY)
    assert other.profile("ada@example.com") is None
    assert (
        kl.get("/api/accounts").json()["data"][0]["id"]
        != (other.get("/api/accounts").json()["data"][0]["id"])
    )
    assert set(sb.state("klaviyo")) == {KEY, OTHER_KEY}


# -- events --------------------------------------------------------------------------
def test_event_unique_id_dedup(sb, kl):
    assert (
        kl.event("ada@example.com", unique_id="SO1-placed", OrderId="SO1").status_code
        == 202
    )
    assert (
        kl.event("ada@example.com", unique_id="SO1-placed", OrderId="SO1").status_code
        == 202
    )
    assert (
        kl.event(
            "ada@example.com", "Fulfilled Order", unique_id="SO1-placed"
        ).status_code
        == 202
    )
    events = kl.get("/api/events").json()["data"]
    assert len(events) == 2
    assert len(sb.state("klaviyo", KEY)["events"]) == 2


def test_events_without_unique_id_are_all_kept(kl):
    kl.event("ada@example.com", OrderId="SO1")
    kl.event("ada@example.com", OrderId="SO1")
    assert len(kl.get("/api/events").json()["data"]) == 2


def test_event_filters(kl):
    kl.event("ada@example.com", unique_id="a")
    kl.event("bob@example.com", "Refunded Order", unique_id="b")
    bob = kl.profile("bob@example.com")["id"]
    found = kl.get("/api/events", filter=f"equals(profile_id,'{bob}')").json()["data"]
    assert len(found) == 1
    metric = found[0]["relationships"]["metric"]["data"]["id"]
    found = kl.get("/api/events", filter=f"equals(metric_id,'{metric}')").json()["data"]
    assert [e["relationships"]["profile"]["data"]["id"] for e in found] == [bob]


def test_event_creates_profile(kl):
    kl.event("new@example.com", unique_id="x")
    assert kl.profile("new@example.com") is not None


def test_event_bulk_create_and_limit(kl):
    def job(count):
        events = [
            {
                "type": "event",
                "attributes": {
                    "properties": {"n": n},
                    "unique_id": f"u{n}",
                    "metric": {
                        "data": {"type": "metric", "attributes": {"name": "Viewed"}}
                    },
                },
            }
            for n in range(count)
        ]
        item = {
            "type": "event-bulk-create",
            "attributes": {
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {"email": "bulk@example.com"},
                    }
                },
                "events": {"data": events},
            },
        }
        return {
            "data": {
                "type": "event-bulk-create-job",
                "attributes": {"events-bulk-create": {"data": [item]}},
            }
        }

    assert kl.post("/api/event-bulk-create-jobs", job(3)).status_code == 202
    assert len(kl.get("/api/events").json()["data"]) == 3
    too_many = kl.post("/api/event-bulk-create-jobs", job(1001))
    assert too_many.status_code == 400
    assert "1000" in too_many.json()["errors"][0]["detail"]


# -- consent -------------------------------------------------------------------------
def test_subscribe_sets_consent_and_list(kl):
    list_id = kl.create_list("Newsletter")
    assert kl.subscribe(["ada@example.com"], list_id).status_code == 202
    marketing = kl.marketing("ada@example.com")
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is True
    assert marketing["consent_timestamp"] == "2026-01-01T10:00:00+00:00"
    assert marketing["custom_method_detail"] == "Odoo checkout"
    members = kl.get(f"/api/lists/{list_id}/profiles").json()["data"]
    assert [m["attributes"]["email"] for m in members] == ["ada@example.com"]


def test_subscribe_to_unknown_list_is_404(kl):
    assert kl.subscribe(["ada@example.com"], "NOLIST").status_code == 404


def test_unsubscribe_then_subscribe_lifts_suppression(kl):
    kl.subscribe(["ada@example.com"])
    assert kl.unsubscribe(["ada@example.com"]).status_code == 202
    marketing = kl.marketing("ada@example.com")
    assert marketing["consent"] == "UNSUBSCRIBED"
    assert [s["reason"] for s in marketing["suppression"]] == ["UNSUBSCRIBE"]
    kl.subscribe(["ada@example.com"])
    marketing = kl.marketing("ada@example.com")
    assert marketing["consent"] == "SUBSCRIBED" and marketing["suppression"] == []


def test_subscribe_keeps_hard_bounce(sb, kl):
    kl.subscribe(["ada@example.com"])
    sb.action("klaviyo", "suppress", email="ada@example.com", reason="HARD_BOUNCE")
    kl.subscribe(["ada@example.com"])
    marketing = kl.marketing("ada@example.com")
    assert [s["reason"] for s in marketing["suppression"]] == ["HARD_BOUNCE"]
    assert marketing["can_receive_email_marketing"] is False


def test_suppression_jobs(sb, kl):
    kl.subscribe(["ada@example.com"])
    kl.unsubscribe(["bob@example.com"])
    answer = kl.suppression(["ada@example.com", "bob@example.com"])
    assert answer.status_code == 202
    assert answer.json()["data"]["type"] == "profile-suppression-bulk-create-job"
    sb.advance(1)
    reasons = [s["reason"] for s in kl.marketing("ada@example.com")["suppression"]]
    assert reasons == ["USER_SUPPRESSED"]
    kl.suppression(["ada@example.com", "bob@example.com"], delete=True)
    sb.advance(1)
    assert kl.marketing("ada@example.com")["suppression"] == []
    # unsuppress only lifts USER_SUPPRESSED: bob stays unsubscribed
    bob = kl.marketing("bob@example.com")
    assert [s["reason"] for s in bob["suppression"]] == ["UNSUBSCRIBE"]


def test_suppression_limit(kl):
    emails = [f"p{n}@example.com" for n in range(101)]
    assert kl.suppression(emails).status_code == 400


def test_historical_import_requires_consented_at(kl):
    body = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "historical_import": True,
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "ada@example.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                },
            },
        }
    }
    answer = kl.post("/api/profile-subscription-bulk-create-jobs", body)
    assert answer.status_code == 400
    assert "consented_at" in answer.json()["errors"][0]["detail"]


def test_double_opt_in_list_waits_for_confirmation(sb, kl):
    list_id = kl.create_list("DOI", "double_opt_in")
    kl.subscribe(["ada@example.com"], list_id)
    assert kl.marketing("ada@example.com")["consent"] == "NEVER_SUBSCRIBED"
    sb.action("klaviyo", "confirm_opt_in", email="ada@example.com")
    marketing = kl.marketing("ada@example.com")
    assert marketing["consent"] == "SUBSCRIBED" and marketing["double_optin"] is True


def test_suppression_timestamp_filter_for_polling(sb, kl):
    kl.subscribe(["ada@example.com", "bob@example.com"])
    sb.advance(10)
    since = "2000-01-01T00:00:00+00:00"
    sb.action("klaviyo", "unsubscribe", email="bob@example.com")
    found = kl.get(
        "/api/profiles",
        filter=f"greater-than(subscriptions.email.marketing.suppression.timestamp,{since})",
    ).json()["data"]
    assert [p["attributes"]["email"] for p in found] == ["bob@example.com"]
    found = kl.get(
        "/api/profiles",
        filter="equals(subscriptions.email.marketing.suppression.reason,'UNSUBSCRIBE')",
    ).json()["data"]
    assert len(found) == 1


# -- bulk import jobs ----------------------------------------------------------------
def _import_body(profiles, list_id=None):
    data = {
        "type": "profile-bulk-import-job",
        "attributes": {
            "profiles": {
                "data": [{"type": "profile", "attributes": a} for a in profiles]
            }
        },
    }
    if list_id:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return {"data": data}


def test_bulk_import_job_lifecycle(kl):
    list_id = kl.create_list("Import")
    profiles = [
        {"email": "a@example.com", "first_name": "A"},
        {"email": "broken"},
        {"first_name": "no identifier"},
    ]
    answer = kl.post("/api/profile-bulk-import-jobs", _import_body(profiles, list_id))
    assert answer.status_code == 202
    job = answer.json()["data"]
    assert job["attributes"]["status"] == "queued"
    assert job["attributes"]["total_count"] == 3
    # nothing applied before the job completes
    assert kl.profile("a@example.com") is None
    statuses = []
    for _ in range(3):
        got = kl.get(f"/api/profile-bulk-import-jobs/{job['id']}").json()["data"]
        statuses.append(got["attributes"]["status"])
    assert statuses == ["processing", "complete", "complete"]
    assert got["attributes"]["completed_count"] == 1
    assert got["attributes"]["failed_count"] == 2
    errors = kl.get(f"/api/profile-bulk-import-jobs/{job['id']}/import-errors").json()
    pointers = sorted(e["attributes"]["source"]["pointer"] for e in errors["data"])
    assert pointers == [
        "/data/attributes/profiles/data/1/attributes/email",
        "/data/attributes/profiles/data/2/attributes",
    ]
    assert kl.profile("a@example.com")["attributes"]["first_name"] == "A"
    members = kl.get(f"/api/lists/{list_id}/profiles").json()["data"]
    assert len(members) == 1


def test_bulk_import_completes_after_job_seconds(sb, kl):
    answer = kl.post(
        "/api/profile-bulk-import-jobs", _import_body([{"email": "t@example.com"}])
    )
    assert answer.json()["data"]["attributes"]["status"] == "queued"
    sb.advance(5)
    assert kl.profile("t@example.com") is not None


def test_bulk_import_per_profile_size_limit(sb, kl):
    profiles = [{"email": "big@example.com", "properties": {"x": "y" * 110_000}}]
    job = kl.post("/api/profile-bulk-import-jobs", _import_body(profiles)).json()[
        "data"
    ]
    sb.advance(5)
    got = kl.get(f"/api/profile-bulk-import-jobs/{job['id']}").json()["data"]
    assert got["attributes"]["failed_count"] == 1
    assert kl.get("/api/profile-bulk-import-jobs/NOPE").status_code == 404


def test_bulk_import_profile_limit(kl):
    profiles = [{"email": f"p{n}@example.com"} for n in range(10_001)]
    answer = kl.post("/api/profile-bulk-import-jobs", _import_body(profiles))
    assert answer.status_code == 400
    assert "10000" in answer.json()["errors"][0]["detail"]


# -- catalog -------------------------------------------------------------------------
def _item(external_id):
    return {
        "data": {
            "type": "catalog-item",
            "attributes": {
                "external_id": external_id,
                "title": "Mug",
                "description": "A mug",
                "url": "https://shop.example.com/mug",
                "price": 9.5,
            },
        }
    }


def _variant(external_id, item_id, quantity):
    return {
        "data": {
            "type": "catalog-variant",
            "attributes": {
                "external_id": external_id,
                "title": "Mug blue",
                "description": "A blue mug",
                "sku": external_id,
                "inventory_quantity": quantity,
                "price": 9.5,
                "url": "https://shop.example.com/mug?blue",
            },
            "relationships": {
                "item": {"data": {"type": "catalog-item", "id": item_id}}
            },
        }
    }


def test_catalog_items_variants_and_back_in_stock(sb, kl):
    answer = kl.post("/api/catalog-items", _item("MUG"))
    assert answer.status_code == 201
    item_id = answer.json()["data"]["id"]
    assert item_id == "$custom:::$default:::MUG"
    assert kl.post("/api/catalog-items", _item("MUG")).status_code == 409
    answer = kl.post("/api/catalog-variants", _variant("MUG-B", item_id, 0))
    assert answer.status_code == 201
    variant_id = answer.json()["data"]["id"]
    assert (
        kl.get(f"/api/catalog-variants/{variant_id}").json()["data"]["attributes"][
            "inventory_quantity"
        ]
        == 0
    )
    bis = {
        "data": {
            "type": "back-in-stock-subscription",
            "attributes": {
                "channels": ["EMAIL"],
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {"email": "ada@example.com"},
                    }
                },
            },
            "relationships": {
                "variant": {"data": {"type": "catalog-variant", "id": variant_id}}
            },
        }
    }
    assert kl.post("/api/back-in-stock-subscriptions", bis).status_code == 202
    patch = {
        "data": {
            "type": "catalog-variant",
            "id": variant_id,
            "attributes": {"inventory_quantity": 4},
        }
    }
    answer = kl.patch(f"/api/catalog-variants/{variant_id}", patch)
    assert answer.status_code == 200
    assert answer.json()["data"]["attributes"]["inventory_quantity"] == 4
    (subscription,) = sb.state("klaviyo", KEY)["bis"]
    assert subscription["notified"] is not None
    found = kl.get("/api/catalog-variants", filter=f"equals(item.id,'{item_id}')")
    assert len(found.json()["data"]) == 1
    orphan = kl.post(
        "/api/catalog-variants", _variant("X", "$custom:::$default:::NO", 1)
    )
    assert orphan.status_code == 404


# -- webhooks and ESP-side actions ---------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
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
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()
    server.server_close()


def test_webhook_is_signed_and_sent_on_unsubscribe(sb, kl, receiver):
    url, received = receiver
    secret = "0123456789abcdef-secret"
    body = {
        "data": {
            "type": "webhook",
            "attributes": {"name": "odoo", "endpoint_url": url, "secret_key": secret},
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
    answer = kl.post("/api/webhooks", body)
    assert answer.status_code == 201
    assert "secret_key" not in answer.json()["data"]["attributes"]
    assert len(kl.get("/api/webhooks").json()["data"]) == 1
    kl.subscribe(["ada@example.com"])
    result = sb.action("klaviyo", "unsubscribe", email="ada@example.com")
    assert result["profiles"][0]["account"] == KEY
    # suppress is another topic: not sent to this webhook
    sb.action("klaviyo", "suppress", email="ada@example.com")
    assert sb.wait_webhooks()
    assert len(received) == 1
    sent_headers, raw = received[0]
    expected = hmac.new(
        secret.encode(),
        raw + sent_headers["Klaviyo-Timestamp"].encode(),
        hashlib.sha256,
    ).hexdigest()
    assert sent_headers["Klaviyo-Signature"] == expected
    assert expected == sign_webhook(secret, raw, sent_headers["Klaviyo-Timestamp"])
    payload = json.loads(raw)
    assert (
        payload["data"][0]["topic"] == "event:klaviyo.unsubscribed_from_email_marketing"
    )
    assert payload["meta"]["klaviyo_webhook_id"] == sent_headers["Klaviyo-Webhook-Id"]
    included = payload["data"][0]["payload"]["included"][0]
    assert included["attributes"]["email"] == "ada@example.com"
    assert kl.marketing("ada@example.com")["consent"] == "UNSUBSCRIBED"


def test_webhook_rejects_short_secret_and_unknown_topic(kl):
    body = {
        "data": {
            "type": "webhook",
            "attributes": {
                "name": "x",
                "endpoint_url": "http://x",
                "secret_key": "short",
            },
            "relationships": {"webhook-topics": {"data": []}},
        }
    }
    assert kl.post("/api/webhooks", body).status_code == 400
    body["data"]["attributes"]["secret_key"] = "long-enough-secret-key"
    body["data"]["relationships"]["webhook-topics"]["data"] = [
        {"type": "webhook-topic", "id": "event:nope"}
    ]
    assert kl.post("/api/webhooks", body).status_code == 400


def test_action_on_unknown_email_raises(sb):
    with pytest.raises(KeyError):
        sb.action("klaviyo", "unsubscribe", email="ghost@example.com")


def test_action_with_account_creates_profile(sb, kl):
    sb.action("klaviyo", "suppress", email="new@example.com", account=KEY)
    reasons = [s["reason"] for s in kl.marketing("new@example.com")["suppression"]]
    assert reasons == ["USER_SUPPRESSED"]


def test_ui_rows_show_consent_and_timeline(sb, kl):
    kl.subscribe(["ada@example.com"])
    kl.event("ada@example.com", unique_id="SO1", OrderId="SO1")
    sb.action("klaviyo", "unsubscribe", email="ada@example.com")
    (row,) = sb.apps["klaviyo"].ui_rows()
    assert row["email"] == "ada@example.com"
    assert row["consent"].startswith("unsubscribed")
    assert [e["name"] for e in row["events"]] == [
        "Placed Order",
        "Unsubscribed from Email Marketing",
    ]


def test_shapeless_body_without_validation_is_400(sb, kl):
    sb.configure(validate=False)
    answer = kl.post("/api/events", {"nothing": True})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"]["pointer"] == "/data"


def test_suppression_job_can_be_polled(sb, kl):
    job = kl.suppression(["ada@example.com"]).json()["data"]
    got = kl.get(f"/api/profile-suppression-bulk-create-jobs/{job['id']}").json()
    assert got["data"]["attributes"]["status"] in ("processing", "complete")
    sb.advance(1)
    got = kl.get(f"/api/profile-suppression-bulk-create-jobs/{job['id']}").json()
    assert got["data"]["attributes"]["status"] == "complete"
    assert got["data"]["attributes"]["completed_count"] == 1


def test_unsubscribe_from_a_list_is_a_list_suppression(sb, kl):
    list_id = kl.create_list("Newsletter")
    kl.subscribe(["ada@example.com", "bob@example.com"], list_id)
    data = {
        "type": "profile-subscription-bulk-delete-job",
        "attributes": {
            "profiles": {
                "data": [
                    {
                        "type": "profile",
                        "attributes": {
                            "email": e,
                            "subscriptions": {
                                "email": {"marketing": {"consent": "UNSUBSCRIBED"}}
                            },
                        },
                    }
                    for e in ("ada@example.com", "eve@example.com")
                ]
            }
        },
        "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
    }
    answer = kl.post("/api/profile-subscription-bulk-delete-jobs", {"data": data})
    assert answer.status_code == 202
    ada = kl.marketing("ada@example.com")
    assert ada["consent"] == "SUBSCRIBED" and ada["suppression"] == []
    assert [s["list_id"] for s in ada["list_suppressions"]] == [list_id]
    # eve was not on the list: unsubscribed globally
    assert kl.marketing("eve@example.com")["consent"] == "UNSUBSCRIBED"
    found = kl.get(
        "/api/profiles",
        filter="greater-than(subscriptions.email.marketing.list_suppressions.timestamp,"
        "2000-01-01T00:00:00Z)",
    ).json()["data"]
    assert [p["attributes"]["email"] for p in found] == ["ada@example.com"]
    # subscribing to the list again lifts the list suppression
    kl.subscribe(["ada@example.com"], list_id)
    assert kl.marketing("ada@example.com")["list_suppressions"] == []
    sb.action("klaviyo", "unsubscribe", email="bob@example.com", list_id=list_id)
    bob = kl.marketing("bob@example.com")
    assert bob["consent"] == "SUBSCRIBED" and bob["list_suppressions"]


def test_catalog_ids_in_paths_are_percent_decoded(kl):
    item_id = kl.post("/api/catalog-items", _item("MUG 1/2")).json()["data"]["id"]
    assert item_id == "$custom:::$default:::MUG 1/2"
    answer = kl.get("/api/catalog-items/" + urllib.parse.quote(item_id, safe="$:"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["id"] == item_id
