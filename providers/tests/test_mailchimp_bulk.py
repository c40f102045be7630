"""Mailchimp batches: member import, order backfill, per-operation errors."""

import dataclasses
import io
import json
import tarfile

import responses

from providers import events
from providers.base import BackendSettings, BulkJob
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.adapter import MailchimpAdapter
from providers.mailchimp.util import subscriber_hash
from sandbox import specs

API = "https://us6.api.mailchimp.com/3.0"
K = events.EventKind


def adapter():
    return MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url="",
            api_key="0123456789abcdef-us6",
            mailchimp_list_id="L1",
            mailchimp_store_id="S1",
        )
    )


def body_of(call):
    return json.loads(call.request.body)


@responses.activate
def test_bulk_import_profiles_puts_members_with_status_if_new(
    sample_profile, make_consent
):
    mc_adapter._merge_tags_cache.clear()
    subscribed = dataclasses.replace(
        sample_profile, properties={}, consent=make_consent()
    )
    plain = dataclasses.replace(
        sample_profile, email="Bob@Example.com", properties={}, tags=()
    )
    broken = dataclasses.replace(sample_profile, email="not-an-email")
    responses.post(f"{API}/batches", json={"id": "b1", "status": "pending"})

    job = adapter().bulk_import_profiles([subscribed, plain, broken])

    assert (job.job_id, job.status, job.total, job.failed) == ("b1", "queued", 3, 1)
    assert job.errors[0][0] == "not-an-email"
    body = body_of(responses.calls[0])
    assert specs.validate_request("mailchimp", "POST", "/3.0/batches", body) == []
    first, second = body["operations"]
    assert first["method"] == "PUT" and first["operation_id"] == "ada@example.com"
    assert first["path"] == f"/lists/L1/members/{subscriber_hash('ada@example.com')}"
    member = json.loads(first["body"])
    assert member["status_if_new"] == "subscribed" and "status" not in member
    assert member["tags"] == ["VIP", "Newsletter"]
    member2 = json.loads(second["body"])
    assert member2["email_address"] == "bob@example.com"
    assert member2["status_if_new"] == "transactional" and "tags" not in member2
    template = "/3.0/lists/{list_id}/members/{subscriber_hash}"
    assert specs.validate_request("mailchimp", "PUT", template, member) == []


@responses.activate
def test_bulk_send_events_merges_events_of_one_order(make_order_event, sample_order):
    refunded = dataclasses.replace(sample_order, refunded_total=42.0)
    other = dataclasses.replace(sample_order, order_id="43")
    responses.get(
        f"{API}/ecommerce/stores/S1/products/P1", json={"variants": [{"id": "P1"}]}
    )
    responses.get(
        f"{API}/ecommerce/stores/S1/products/P2", json={"variants": [{"id": "P2"}]}
    )
    responses.post(f"{API}/batches", json={"id": "b2", "status": "started"})

    job = adapter().bulk_send_events(
        [
            make_order_event(K.REFUNDED, order=refunded),
            make_order_event(K.PLACED, order=refunded),
            make_order_event(K.FULFILLED, order=other, unique_id="u-43-f"),
        ]
    )

    assert job.status == "processing" and job.total == 2
    operations = body_of(responses.calls[-1])["operations"]
    create, patch = operations
    assert (
        create["method"] == "POST" and create["path"] == "/ecommerce/stores/S1/orders"
    )
    assert create["operation_id"] == "odoo-db-sale.order-42-refunded"
    order = json.loads(create["body"])
    assert order["financial_status"] == "refunded" and order["order_total"] == 0.0
    assert patch["method"] == "PATCH"
    assert patch["path"] == "/ecommerce/stores/S1/orders/43"
    assert json.loads(patch["body"])["fulfillment_status"] == "shipped"


def _tar(results):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = json.dumps(results).encode()
        info = tarfile.TarInfo("b1/part-1.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


RESULTS = [
    {"status_code": 200, "operation_id": "ada@example.com", "response": "{}"},
    {
        "status_code": 400,
        "operation_id": "bob@example.com",
        "response": json.dumps(
            {
                "title": "Invalid Resource",
                "detail": "Your merge fields were invalid.",
                "errors": [{"field": "LNAME", "message": "Please enter a value"}],
            }
        ),
    },
]


def _finished(url):
    return {
        "id": "b1",
        "status": "finished",
        "total_operations": 2,
        "finished_operations": 2,
        "errored_operations": 1,
        "response_body_url": url,
    }


@responses.activate
def test_get_bulk_job_reads_tar_gz_results_without_credentials():
    url = "https://mailchimp-results.s3.amazonaws.com/b1.tar.gz?sig=x"
    responses.get(f"{API}/batches/b1", json=_finished(url))
    responses.get(url, body=_tar(RESULTS), content_type="application/x-gzip")

    job = adapter().get_bulk_job(BulkJob(job_id="b1", total=3, errors=[("x", "bad")]))

    assert job.status == "complete" and job.done
    assert job.failed == 2 and job.completed == 1
    assert job.errors[0] == ("x", "bad")
    key, message = job.errors[1]
    assert key == "bob@example.com"
    assert "HTTP 400" in message and "LNAME: Please enter a value" in message
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_get_bulk_job_reads_plain_json_results():
    url = "http://127.0.0.1:8073/mailchimp/_results/b1"
    responses.get(f"{API}/batches/b1", json=_finished(url))
    responses.get(url, json=RESULTS)
    job = adapter().get_bulk_job(BulkJob(job_id="b1"))
    assert [k for k, _m in job.errors] == ["bob@example.com"]


@responses.activate
def test_get_bulk_job_pending_does_not_download():
    responses.get(f"{API}/batches/b1", json={"id": "b1", "status": "pending"})
    job = adapter().get_bulk_job(BulkJob(job_id="b1"))
    assert job.status == "queued" and not job.done
    assert len(responses.calls) == 1


def test_an_order_already_at_mailchimp_is_no_backfill_error():
    from providers.mailchimp.batches import result_errors

    results = [
        {
            "operation_id": "order-1",
            "status_code": 400,
            "response": json.dumps(
                {
                    "title": "Bad Request",
                    "detail": "An order with the provided ID already exists.",
                }
            ),
        },
        {
            "operation_id": "order-2",
            "status_code": 400,
            "response": json.dumps({"title": "Invalid Resource", "detail": "bad"}),
        },
    ]
    assert result_errors(results) == [("order-2", "HTTP 400: bad")]
