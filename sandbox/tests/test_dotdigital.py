"""The Dotdigital emulator over HTTP: auth, contacts, insight data, limits."""

import time
import urllib.parse

import pytest
import requests

USER = "apiuser-sandbox-alpha@apiconnector.com"
OTHER = "apiuser-sandbox-beta@apiconnector.com"
PASSWORD = "sandbox-password"


class Client:
    """Tiny Dotdigital client for the tests (HTTP Basic)."""

    def __init__(self, sb, user=USER, password=PASSWORD):
        self.base = sb.base_url("dotdigital")
        self.session = requests.Session()
        self.session.auth = (user, password)

    def request(self, method, path, json=None, params=None):
        return self.session.request(
            method, self.base + path, json=json, params=params, timeout=10
        )

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, json=None, params=None):
        return self.request("POST", path, json=json, params=params)

    def put(self, path, json=None):
        return self.request("PUT", path, json=json)

    def patch(self, path, json=None, params=None):
        return self.request("PATCH", path, json=json, params=params)


@pytest.fixture
def dd(sb):
    return Client(sb)


def upsert(dd, email, params=None, **body):
    return dd.patch(f"/contacts/v3/email/{email}", json=body, params=params)


def v3_error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"errorCode", "description"}
    if code:
        assert body["errorCode"] == code
    return body


def v2_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message"}
    return body["message"]


# -- auth and discovery -------------------------------------------------------
@pytest.mark.parametrize(
    "user, password",
    [
        (USER, "wrong"),
        ("apiuser-live@apiconnector.com", PASSWORD),
    ],
)
def test_bad_credentials_are_denied(sb, user, password):
    response = Client(sb, user, password).get("/v2/account-info")
    assert response.status_code == 401
    assert response.json() == {
        "message": "Authorization has been denied for this request."
    }
    anonymous = requests.get(sb.base_url("dotdigital") + "/v2/account-info", timeout=5)
    assert anonymous.status_code == 401


def test_account_info_announces_the_sandbox_endpoint(sb, dd):
    info = dd.get("/v2/account-info").json()
    props = {p["name"]: p["value"] for p in info["properties"]}
    assert props["ApiEndpoint"] == sb.base_url("dotdigital")
    assert props["Name"] == USER


def test_unknown_paths_use_each_api_error_shape(dd):
    v2_error(dd.get("/v2/nothing-here"), 404)
    v3_error(dd.get("/contacts/v3/nothing/here/at/all"), 404)


# -- contacts v3 --------------------------------------------------------------
def test_upsert_creates_then_updates_with_merge_options(dd):
    created = upsert(
        dd,
        "ann@example.com",
        identifiers={"email": "ann@example.com"},
        dataFields={"FIRSTNAME": "Ann", "LASTNAME": "Lee"},
        channelProperties={"email": {"status": "subscribed", "emailType": "html"}},
        lists=[1],
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["channelProperties"]["email"]["status"] == "subscribed"
    assert contact["lists"] == [{"id": 1, "name": "Test", "status": "subscribed"}]
    kept = upsert(
        dd,
        "ann@example.com",
        params={"merge-option": "overwrite-if-not-empty"},
        dataFields={"FIRSTNAME": "", "LASTNAME": "Li"},
    )
    assert kept.status_code == 200
    assert kept.json()["dataFields"]["FIRSTNAME"] == "Ann"
    assert kept.json()["dataFields"]["LASTNAME"] == "Li"
    only_empty = upsert(
        dd,
        "ann@example.com",
        params={"merge-option": "overwrite-if-empty"},
        dataFields={"LASTNAME": "Zed", "POSTCODE": "SW1"},
    ).json()["dataFields"]
    assert (only_empty["LASTNAME"], only_empty["POSTCODE"]) == ("Li", "SW1")
    blanked = upsert(dd, "ann@example.com", dataFields={"FIRSTNAME": ""})
    assert blanked.json()["dataFields"]["FIRSTNAME"] == ""
    fetched = dd.get("/contacts/v3/email/ann@example.com").json()
    assert fetched["contactId"] == contact["contactId"]
    by_id = dd.get(f"/contacts/v3/contactId/{contact['contactId']}").json()
    assert by_id["identifiers"]["email"] == "ann@example.com"


def test_get_unknown_contact_is_404(dd):
    body = v3_error(
        dd.get("/contacts/v3/email/nobody@example.com"), 404, "contacts:contactNotFound"
    )
    assert body["details"][0]["item"] == "nobody@example.com"
    v3_error(dd.get("/contacts/v3/email/not-an-email"), 400, "contacts:invalidId")


def test_unknown_data_field_and_list_are_refused(dd):
    body = v3_error(
        upsert(dd, "ann@example.com", dataFields={"LOYALTY": "gold"}),
        400,
        "contacts:invalidDataFields",
    )
    assert body["details"][0]["item"] == "LOYALTY"
    v3_error(upsert(dd, "ann@example.com", lists=[999]), 400, "contacts:listNotFound")
    dd.post("/v2/data-fields", json={"name": "LOYALTY", "type": "Numeric"})
    v3_error(upsert(dd, "ann@example.com", dataFields={"LOYALTY": "gold"}), 400)
    ok = upsert(dd, "ann@example.com", dataFields={"loyalty": 3})
    assert ok.status_code == 201
    assert ok.json()["dataFields"]["LOYALTY"] == 3


def test_schema_violations_are_named(dd):
    body = v3_error(
        upsert(dd, "ann@example.com", channelProperties={"email": {"status": "bogus"}}),
        400,
        "contacts:invalidRequest",
    )
    assert body["details"][0]["item"] == "channelProperties.email.status"
    message = v2_error(dd.post("/v2/address-books", json={"title": "x"}), 400)
    assert "ERROR_PARAMETER_INVALID" in message


@pytest.mark.parametrize("action", ["unsubscribe", "suppress"])
def test_resubscribe_needs_resubscribe_options(sb, dd, action):
    upsert(dd, "ann@example.com", channelProperties={"email": {"status": "subscribed"}})
    sb.action("dotdigital", action, email="ann@example.com", account=USER)
    refused = upsert(
        dd, "ann@example.com", channelProperties={"email": {"status": "subscribed"}}
    )
    body = v3_error(refused, 400, "contacts:resubscribeOptionsRequired")
    assert body["details"][0]["item"] == "channelProperties.email.status"
    status = dd.get("/contacts/v3/email/ann@example.com").json()["channelProperties"]
    assert status["email"]["status"] != "subscribed"
    challenged = upsert(
        dd,
        "ann@example.com",
        channelProperties={
            "email": {
                "status": "subscribed",
                "resubscribeOptions": {"resubscribeWithNoChallenge": False},
            }
        },
    )
    assert challenged.json()["channelProperties"]["email"]["status"] == "pendingOptIn"
    resubscribed = upsert(
        dd,
        "ann@example.com",
        channelProperties={
            "email": {
                "status": "subscribed",
                "resubscribeOptions": {"resubscribeWithNoChallenge": True},
            }
        },
    )
    email = resubscribed.json()["channelProperties"]["email"]
    assert email["status"] == "subscribed"


def test_identifier_conflict_is_409(dd):
    upsert(dd, "ann@example.com")
    upsert(dd, "bob@example.com")
    v3_error(
        upsert(dd, "bob@example.com", identifiers={"email": "ann@example.com"}),
        409,
        "contacts:idAlreadyExists",
    )


# -- v2 -----------------------------------------------------------------------
def test_data_fields_and_address_books(dd):
    names = [f["name"] for f in dd.get("/v2/data-fields").json()]
    assert "FIRSTNAME" in names
    created = dd.post("/v2/data-fields", json={"name": "Loyalty", "type": "String"})
    assert created.json()["name"] == "LOYALTY"
    message = v2_error(dd.post("/v2/data-fields", json={"name": "LOYALTY"}), 400)
    assert message.endswith("ERROR_NON_UNIQUE_DATAFIELD")
    book = dd.post("/v2/address-books", json={"name": "Customers"})
    assert book.status_code == 201
    book_id = book.json()["id"]
    v2_error(dd.post("/v2/address-books", json={"name": "Customers"}), 400)
    upsert(dd, "ann@example.com", lists=[book_id])
    members = dd.get(f"/v2/address-books/{book_id}/contacts").json()
    assert [m["email"] for m in members] == ["ann@example.com"]
    assert members[0]["status"] == "Subscribed"
    assert dd.get(f"/v2/address-books/{book_id}").json()["contacts"] == 1
    v2_error(dd.get("/v2/address-books/4242"), 404)


def test_suppressed_and_unsubscribed_since(sb, dd):
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        upsert(dd, email, channelProperties={"email": {"status": "subscribed"}})
    start = sb.now()
    sb.action("dotdigital", "unsubscribe", email="a@example.com", account=USER)
    sb.advance(60)
    middle = sb.now()
    sb.action("dotdigital", "suppress", email="b@example.com", account=USER)
    upsert(dd, "c@example.com", channelProperties={"email": {"status": "unsubscribed"}})
    since_start = dd.get(f"/v2/contacts/suppressed-since/{_iso(start - 1)}").json()
    assert [row["suppressedContact"]["email"] for row in since_start] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert {row["reason"] for row in since_start} == {"Unsubscribed", "Suppressed"}
    recent = dd.get(f"/v2/contacts/suppressed-since/{_iso(middle - 1)}").json()
    assert [row["suppressedContact"]["email"] for row in recent] == [
        "b@example.com",
        "c@example.com",
    ]
    unsubscribed = dd.get(f"/v2/contacts/unsubscribed-since/{_iso(start - 1)}").json()
    assert [r["suppressedContact"]["email"] for r in unsubscribed] == [
        "a@example.com",
        "c@example.com",
    ]
    paged = dd.get(
        f"/v2/contacts/suppressed-since/{_iso(start - 1)}",
        params={"select": 1, "skip": 1},
    ).json()
    assert [r["suppressedContact"]["email"] for r in paged] == ["b@example.com"]
    v2_error(dd.get("/v2/contacts/suppressed-since/yesterday"), 400)


def test_v2_contact_by_email_or_id(dd):
    created = upsert(dd, "ann@example.com", dataFields={"FIRSTNAME": "Ann"}).json()
    by_email = dd.get("/v2/contacts/ann@example.com").json()
    assert by_email["id"] == created["contactId"]
    assert {"key": "FIRSTNAME", "value": "Ann"} in by_email["dataFields"]
    assert dd.get(f"/v2/contacts/{created['contactId']}").json()["email"] == (
        "ann@example.com"
    )
    v2_error(dd.get("/v2/contacts/zed@example.com"), 404)


# -- insight data v3 ----------------------------------------------------------
def test_insight_record_put_and_get(dd):
    path = "/insightData/v3/account/catalog/P1"
    v3_error(dd.put(path, json={"name": "Mug"}), 404, "insightData:collectionNotFound")
    created = dd.post(
        "/insightData/v3/collections/catalog",
        params={"collectionScope": "account", "collectionType": "catalog"},
    )
    assert created.status_code == 201
    assert dd.put(path, json={"name": "Mug"}).status_code == 201
    assert dd.put(path, json={"name": "Big mug"}).status_code == 204
    record = dd.get(path).json()
    assert record["key"] == "P1"
    assert record["json"] == {"name": "Big mug"}
    v3_error(dd.get("/insightData/v3/account/catalog/P2"), 404)


def test_contact_scoped_record_needs_the_contact(dd):
    dd.post(
        "/insightData/v3/collections/orders",
        params={"collectionScope": "contact", "collectionType": "orders"},
    )
    path = "/insightData/v3/contacts/email/ann@example.com/orders/SO1"
    v3_error(dd.put(path, json={"total": 1}), 404, "insightData:contactNotFound")
    upsert(dd, "ann@example.com")
    assert dd.put(path, json={"total": 1}).status_code == 201
    assert dd.get(path).json()["json"] == {"total": 1}
    scope = dd.put("/insightData/v3/account/orders/SO1", json={"total": 1})
    v3_error(scope, 400)


def test_insight_import_status_and_failures(sb, dd):
    sb.configure(job_seconds=30)
    upsert(dd, "ann@example.com")
    body = {
        "collectionName": "orders",
        "collectionScope": "contact",
        "collectionType": "orders",
        "records": [
            {
                "key": "SO1",
                "contactIdentity": {"identifier": "email", "value": "ann@example.com"},
                "json": {"total": 10, "lines": [{"sku": "P1"}]},
            },
            {
                "key": "SO2",
                "contactIdentity": {"identifier": "email", "value": "zed@example.com"},
                "json": {"total": 5},
            },
            {
                "key": "SO1",
                "contactIdentity": {"identifier": "email", "value": "ann@example.com"},
                "json": {"total": 11},
            },
        ],
    }
    started = dd.put("/insightData/v3/import", json=body)
    assert started.status_code == 202, started.text
    import_id = started.json()["importId"]
    status = dd.get(f"/insightData/v3/import/{import_id}").json()
    assert status["status"] == "NotStarted"
    sb.advance(16)
    assert dd.get(f"/insightData/v3/import/{import_id}").json()["status"] == (
        "Processing"
    )
    sb.advance(15)
    done = dd.get(f"/insightData/v3/import/{import_id}").json()
    assert done["status"] == "Complete"
    assert done["summary"] == {
        "totalRecords": 3,
        "totalImported": 1,
        "totalRejected": 2,
    }
    reasons = sorted(f["failureReason"] for f in done["failures"])
    assert reasons == ["ContactEmailDoesNotExist", "DuplicateKey"]
    record = dd.get("/insightData/v3/contacts/email/ann@example.com/orders/SO1").json()
    assert record["json"]["total"] == 10
    v3_error(dd.get("/insightData/v3/import/nope"), 404, "insightData:importNotFound")
    bad = dict(body, collectionType="nonsense")
    v3_error(dd.put("/insightData/v3/import", json=bad), 400)


def test_import_completes_without_polling(sb, dd):
    sb.configure(job_seconds=0.1)
    dd.put(
        "/insightData/v3/import",
        json={
            "collectionName": "catalog",
            "collectionScope": "account",
            "collectionType": "catalog",
            "records": [{"key": "P1", "json": {"name": "Mug"}}],
        },
    )
    deadline = time.time() + 5
    while dd.get("/insightData/v3/account/catalog/P1").status_code != 200:
        assert time.time() < deadline
        time.sleep(0.05)


# -- limits and isolation -----------------------------------------------------
def test_rate_limit_headers_and_429(sb, dd):
    sb.configure(rate_limits=True, rate_limit_scale=0.01)
    first = dd.get("/v2/account-info")
    limit = int(first.headers["X-RateLimit-Limit"])
    assert limit == 10
    assert int(first.headers["X-RateLimit-Remaining"]) == limit - 1
    assert int(first.headers["X-RateLimit-Reset"]) > time.time()
    for _ in range(limit - 1):
        assert dd.get("/v2/account-info").status_code == 200
    throttled = dd.get("/v2/account-info")
    assert throttled.status_code == 429
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert set(throttled.json()) == {"message"}
    # the low tier (imports, bulk queries) has its own, smaller limit
    low = dd.get("/v2/contacts/suppressed-since/2020-01-01")
    assert low.headers["X-RateLimit-Limit"] == "1"
    # another account is not throttled
    assert Client(sb, OTHER).get("/v2/account-info").status_code == 200


def test_accounts_are_isolated(sb, dd):
    upsert(dd, "ann@example.com")
    other = Client(sb, OTHER)
    v3_error(other.get("/contacts/v3/email/ann@example.com"), 404)
    assert upsert(other, "ann@example.com").status_code == 201
    assert set(sb.state("dotdigital")) == {USER, OTHER}
    state = sb.state("dotdigital", USER)
    emails = [c["identifiers"]["email"] for c in state["contacts"].values()]
    assert emails == ["ann@example.com"]


def _iso(ts):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def test_actions_over_the_control_api(sb, dd):
    upsert(dd, "ann@example.com", channelProperties={"email": {"status": "subscribed"}})
    response = requests.post(
        sb.url + "/_sandbox/actions/dotdigital/suppress",
        json={"email": "ann@example.com"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    contact = dd.get("/contacts/v3/email/ann@example.com").json()
    assert contact["channelProperties"]["email"]["status"] == "suppressed"
    assert contact["status"] == "suppressed"
    missing = requests.post(
        sb.url + "/_sandbox/actions/dotdigital/suppress",
        json={"email": "zed@example.com"},
        timeout=10,
    )
    assert missing.status_code == 404
    rows = sb.apps["dotdigital"].ui_rows()
    assert rows[0]["consent"] == "suppressed"


def test_contacts_bulk_import(sb, dd):
    sb.configure(job_seconds=30)
    upsert(dd, "ann@example.com", dataFields={"FIRSTNAME": "Ann"})
    upsert(dd, "gone@example.com")
    sb.action("dotdigital", "unsubscribe", email="gone@example.com", account=USER)
    subscribed = {"email": {"status": "subscribed"}}
    body = {
        "mergeOption": "overwriteIfNotEmpty",
        "contacts": [
            {
                "matchIdentifier": "email",
                "identifiers": {"email": "new@example.com"},
                "channelProperties": subscribed,
            },
            {
                "matchIdentifier": "email",
                "identifiers": {"email": "ann@example.com"},
                "dataFields": {"FIRSTNAME": "", "LASTNAME": "Lee"},
            },
            {
                "matchIdentifier": "email",
                "identifiers": {"email": "new@example.com"},
            },
            {
                "matchIdentifier": "email",
                "identifiers": {"email": "gone@example.com"},
                "channelProperties": subscribed,
            },
        ],
    }
    started = dd.put("/contacts/v3/import", json=body)
    assert started.status_code == 202, started.text
    path = f"/contacts/v3/import/{started.json()['importId']}"
    assert dd.get(path).json()["status"] == "NotFinished"
    v3_error(dd.get("/contacts/v3/email/new@example.com"), 404)
    sb.advance(31)
    done = dd.get(path).json()
    assert done["status"] == "Finished"
    assert done["summary"]["newContacts"] == 1
    assert done["summary"]["updatedContacts"] == 1
    assert done["summary"]["duplicateIdentifiers"] == 1
    assert done["summary"]["invalidEntries"] == 1
    codes = [f["failures"][0]["failureCode"] for f in done["failures"]]
    assert codes == ["duplicateIdentifier", "resubscribeOptionsRequired"]
    ann = dd.get("/contacts/v3/email/ann@example.com").json()
    assert ann["dataFields"]["FIRSTNAME"] == "Ann"
    assert ann["dataFields"]["LASTNAME"] == "Lee"
    gone = dd.get("/contacts/v3/email/gone@example.com").json()
    assert gone["channelProperties"]["email"]["status"] == "unsubscribed"
    v3_error(dd.get("/contacts/v3/import/nope"), 404, "contacts:importNotFound")


def test_email_change_keeps_one_contact(dd):
    created = upsert(dd, "ann@example.com").json()
    moved = upsert(dd, "ann@example.com", identifiers={"email": "ann@new.example"})
    assert moved.json()["contactId"] == created["contactId"]
    v3_error(dd.get("/contacts/v3/email/ann@example.com"), 404)
    assert dd.get("/contacts/v3/email/ANN@new.example").status_code == 200


@pytest.mark.parametrize(
    "email", ["user+tag@example.com", "o'brien@example.com", "zoë@example.com"]
)
def test_contact_paths_are_percent_decoded(dd, email):
    assert upsert(dd, email, identifiers={"email": email}).status_code in (200, 201)
    encoded = urllib.parse.quote(email, safe="@")
    assert encoded != email
    for path in (email, encoded):
        answer = dd.get(f"/contacts/v3/email/{path}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["identifiers"]["email"] == email


def test_verified_double_opt_in_is_pending_until_confirmed(sb, dd):
    channel = {"status": "subscribed", "optInType": "verifiedDouble"}
    created = upsert(
        dd,
        "ann@example.com",
        identifiers={"email": "ann@example.com"},
        channelProperties={"email": channel},
    )
    assert created.status_code == 201, created.text
    assert created.json()["channelProperties"]["email"]["status"] == "pendingOptIn"
    # Pending is neither an unsubscribe nor a suppression for the v2 polls.
    since = "2000-01-01T00:00:00"
    assert dd.get(f"/v2/contacts/unsubscribed-since/{since}").json() == []
    sb.action("dotdigital", "confirm_opt_in", email="ann@example.com", account=USER)
    fetched = dd.get("/contacts/v3/email/ann@example.com").json()
    assert fetched["channelProperties"]["email"]["status"] == "subscribed"
    # An unsubscribed contact is not resubscribed by a late click.
    upsert(
        dd, "ann@example.com", channelProperties={"email": {"status": "unsubscribed"}}
    )
    sb.action("dotdigital", "confirm_opt_in", email="ann@example.com", account=USER)
    fetched = dd.get("/contacts/v3/email/ann@example.com").json()
    assert fetched["channelProperties"]["email"]["status"] == "unsubscribed"
