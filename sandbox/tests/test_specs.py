"""Spec loading, path matching and request validation."""

import pytest

from sandbox import specs

PROFILE = {
    "data": {
        "type": "profile",
        "attributes": {
            "email": "ada@example.com",
            "first_name": None,
            "properties": {"tier": "gold"},
        },
    }
}
EVENT = {
    "data": {
        "type": "event",
        "attributes": {
            "properties": {"OrderId": "SO001"},
            "time": "2026-01-01T10:00:00+00:00",
            "value": 12.5,
            "unique_id": "so001-placed",
            "metric": {
                "data": {"type": "metric", "attributes": {"name": "Placed Order"}}
            },
            "profile": {
                "data": {"type": "profile", "attributes": {"email": "ada@example.com"}}
            },
        },
    }
}
MEMBER = "/3.0/lists/{list_id}/members/{subscriber_hash}"


@pytest.mark.parametrize(
    ("spec", "method", "path", "template"),
    [
        ("klaviyo", "POST", "/api/profile-import", "/api/profile-import"),
        ("klaviyo", "POST", "/api/profile-import/", "/api/profile-import"),
        ("klaviyo", "GET", "/api/profiles/01HX", "/api/profiles/{id}"),
        (
            "klaviyo",
            "PATCH",
            "/api/catalog-items/$custom:::$default:::A1",
            "/api/catalog-items/{id}",
        ),
        ("klaviyo", "GET", "/api/no-such-thing", None),
        ("klaviyo", "PUT", "/api/profile-import", None),
        ("mailchimp", "PUT", "/3.0/lists/L1/members/abc", MEMBER),
        ("dotdigital_v2", "GET", "/v2/account-info", "/v2/account-info"),
        (
            "dotdigital_contacts",
            "PATCH",
            "/contacts/v3/email/a@b.c",
            "/contacts/v3/{identifier}/{value}",
        ),
    ],
)
def test_operation_for(spec, method, path, template):
    assert specs.operation_for(spec, method, path) == template


def test_valid_klaviyo_bodies_pass():
    assert (
        specs.validate_request("klaviyo", "POST", "/api/profile-import", PROFILE) == []
    )
    assert specs.validate_request("klaviyo", "POST", "/api/events", EVENT) == []


def test_raw_bytes_body_is_parsed():
    raw = b'{"data": {"type": "profile", "attributes": {"email": 5}}}'
    found = specs.validate_request("klaviyo", "POST", "/api/profile-import", raw)
    assert [v.field for v in found] == ["/data/attributes/email"]


def test_wrong_type_names_the_field():
    body = {"data": {"type": "profile", "attributes": {"email": 5}}}
    found = specs.validate_request("klaviyo", "POST", "/api/profile-import", body)
    assert len(found) == 1
    assert found[0].field == "/data/attributes/email"
    assert "string" in found[0].message
    assert str(found[0]).startswith("/data/attributes/email:")


def test_wrong_resource_type_is_reported():
    body = {"data": {"type": "profiles", "attributes": {}}}
    found = specs.validate_request("klaviyo", "POST", "/api/profile-import", body)
    assert [v.field for v in found] == ["/data/type"]


def test_missing_metric_is_reported():
    body = {"data": {"type": "event", "attributes": dict(EVENT["data"]["attributes"])}}
    del body["data"]["attributes"]["metric"]
    found = specs.validate_request("klaviyo", "POST", "/api/events", body)
    assert [v.field for v in found] == ["/data/attributes"]
    assert "metric" in found[0].message


def test_missing_body_is_reported():
    found = specs.validate_request("klaviyo", "POST", "/api/events", None)
    assert found and found[0].message == "request body is required"


def test_malformed_json_is_reported():
    found = specs.validate_request("klaviyo", "POST", "/api/events", b"{nope")
    assert found[0].message.startswith("malformed JSON")


def test_query_parameters_are_coerced_and_checked():
    query = {
        "page[size]": ["500"],
        "additional-fields[profile]": ["subscriptions,bogus"],
        "filter": ["equals(email,'a@b.c')"],
    }
    found = specs.validate_request("klaviyo", "GET", "/api/profiles", query=query)
    assert {v.field for v in found} == {
        "query.page[size]",
        "query.additional-fields[profile]",
    }
    ok = {"page[size]": ["50"], "additional-fields[profile]": ["subscriptions"]}
    assert specs.validate_request("klaviyo", "GET", "/api/profiles", query=ok) == []


def test_mailchimp_member_put():
    body = {
        "email_address": "ada@example.com",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ada"},
    }
    assert specs.validate_request("mailchimp", "PUT", MEMBER, body) == []
    body["status_if_new"] = "maybe"
    found = specs.validate_request("mailchimp", "PUT", MEMBER, body)
    assert [v.field for v in found] == ["/status_if_new"]


def test_ratelimit_extension_is_exposed():
    op = specs.operation("klaviyo", "POST", "/api/profile-import")
    assert op["x-klaviyo-ratelimit"] == {"burst": "75/s", "steady": "750/m"}


def test_missing_spec_dir_disables_validation(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("ESP_SYNC_SPECS_DIR", str(tmp_path))
    specs.clear_cache()
    try:
        bad = {"data": 5}
        assert specs.validate_request("klaviyo", "POST", "/api/events", bad) == []
        assert not specs.available("klaviyo")
        assert specs.operation_for("klaviyo", "GET", "/api/profiles") is None
        assert "validation disabled" in caplog.text
    finally:
        monkeypatch.undo()
        specs.clear_cache()
    assert specs.available("klaviyo")


def test_operations_compile_lazily_and_once():
    spec = specs.get_spec("klaviyo")
    specs.validate_request("klaviyo", "POST", "/api/profile-import", PROFILE)
    first = spec.compiled("POST", "/api/profile-import")
    assert spec.compiled("POST", "/api/profile-import") is first
    assert ("POST", "/api/webhooks") not in spec._ops


def test_body_schema_is_self_contained():
    schema = specs.body_schema("klaviyo", "POST", "/api/events")
    assert "components" in schema
    assert specs.body_schema("klaviyo", "GET", "/api/nope") is None
