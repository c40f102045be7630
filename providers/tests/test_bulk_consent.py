"""Backfill imports carry Odoo's consent: opt-outs stay out, nobody subscribed."""

import dataclasses
import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings
from providers.dotdigital import adapter as dd_adapter
from providers.dotdigital.adapter import DotdigitalAdapter
from providers.klaviyo import KlaviyoAdapter, const
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter
from sandbox import specs

S = events.ConsentStatus


@pytest.fixture
def people(sample_profile):
    """A blacklisted, an unsubscribed, a never-opted-in and an opted-in person."""

    def person(name, status, suppressed=False):
        email = f"{name}@example.com"
        consent = events.Consent(email, name, status, suppressed=suppressed)
        return dataclasses.replace(
            sample_profile,
            email=email,
            external_id=name,
            phone="",
            properties={},
            tags=(),
            consent=consent,
        )

    return [
        person("blocked", S.NEVER, suppressed=True),
        person("gone", S.UNSUBSCRIBED),
        person("quiet", S.NEVER),
        person("fan", S.SUBSCRIBED),
    ]


def _body(call):
    return json.loads(call.request.body)


def test_klaviyo_import_suppresses_and_unsubscribes_opt_outs(people):
    base = "https://a.klaviyo.com"
    adapter = KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=base, api_key="pk_test_1234")
    )
    with responses.RequestsMock() as rsps:
        rsps.post(
            f"{base}/api/profile-bulk-import-jobs",
            status=202,
            json={"data": {"id": "JOB1", "attributes": {"status": "queued"}}},
        )
        rsps.post(f"{base}{const.PATH_SUPPRESS_JOBS}", status=202)
        rsps.post(f"{base}{const.PATH_UNSUBSCRIBE_JOBS}", status=202)
        job = adapter.bulk_import_profiles(people)
        calls = list(rsps.calls)
    assert job.job_id == "JOB1"
    suppress, unsubscribe = _body(calls[1]), _body(calls[2])
    for call, template in (
        (calls[1], const.PATH_SUPPRESS_JOBS),
        (calls[2], const.PATH_UNSUBSCRIBE_JOBS),
    ):
        assert not specs.validate_request(
            "klaviyo", "POST", template, _body(call), content_type=const.MEDIA_TYPE
        )
    emails = [
        p["attributes"]["email"]
        for p in suppress["data"]["attributes"]["profiles"]["data"]
    ]
    assert emails == ["blocked@example.com"]
    emails = [
        p["attributes"]["email"]
        for p in unsubscribe["data"]["attributes"]["profiles"]["data"]
    ]
    assert emails == ["gone@example.com"]
    assert len(calls) == 3  # nobody is subscribed by an import


def test_mailchimp_import_creates_opt_outs_unsubscribed(people):
    mc_adapter._merge_tags_cache.clear()
    adapter = MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url="",
            api_key="0123456789abcdef-us6",
            mailchimp_list_id="L1",
        )
    )
    with responses.RequestsMock() as rsps:
        rsps.post(
            "https://us6.api.mailchimp.com/3.0/batches",
            json={"id": "b1", "status": "pending"},
        )
        adapter.bulk_import_profiles(people)
        operations = _body(rsps.calls[0])["operations"]
    statuses = {
        op["operation_id"]: json.loads(op["body"])["status_if_new"] for op in operations
    }
    assert statuses == {
        "blocked@example.com": "unsubscribed",
        "gone@example.com": "unsubscribed",
        "quiet@example.com": "transactional",
        "fan@example.com": "subscribed",
    }
    assert all("status" not in json.loads(op["body"]) for op in operations)


def test_dotdigital_import_keeps_opt_outs_out_of_the_address_book(people):
    dd_adapter._fields_cache.clear()
    api = "https://r2-api.dotdigital.com"
    adapter = DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url="",
            api_user="apiuser-1a2b3c@apiconnector.com",
            api_secret="S3cret-Passw0rd!",
            dotdigital_address_book_id="7",
            extra={"api_endpoint": api},
        )
    )
    with responses.RequestsMock() as rsps:
        rsps.put(f"{api}/contacts/v3/import", status=202, json={"importId": "i1"})
        adapter.bulk_import_profiles(people)
        rows = _body(rsps.calls[-1])["contacts"]
    by_email = {row["identifiers"]["email"]: row for row in rows}
    status = {
        email: (row.get("channelProperties") or {"email": {}})["email"].get("status")
        for email, row in by_email.items()
    }
    assert status == {
        "blocked@example.com": "suppressed",
        "gone@example.com": "unsubscribed",
        "quiet@example.com": None,  # neutral: outside the marketing address book
        "fan@example.com": None,  # new contacts subscribed, existing ones kept
    }
    lists = {email: row.get("lists") for email, row in by_email.items()}
    assert lists == {
        "blocked@example.com": None,
        "gone@example.com": None,
        "quiet@example.com": None,
        "fan@example.com": [7],
    }


def test_sandbox_klaviyo_backfill_leaves_opt_outs_unreachable(people, sb):
    key = "pk_sandbox_klaviyo_bulk_consent"
    adapter = KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo", base_url=sb.base_url("klaviyo"), api_key=key
        )
    )
    job = adapter.bulk_import_profiles(people)
    assert adapter.get_bulk_job(job).status == "complete"
    state = sb.state("klaviyo")[key]
    email = {
        p["email"]: p["subscriptions"]["email"] for p in state["profiles"].values()
    }
    assert email["blocked@example.com"]["suppression"]
    assert email["gone@example.com"]["consent"] == "UNSUBSCRIBED"
    assert email["quiet@example.com"]["consent"] == "NEVER_SUBSCRIBED"
    assert email["fan@example.com"]["consent"] != "SUBSCRIBED"
