"""KlaviyoAdapter bulk jobs: profile import, event bulk create, limits, chunking."""

import json

import pytest
import responses

from providers import events
from providers.base import BackendSettings, BulkJob, ErrorCategory, EspError
from providers.klaviyo import KlaviyoAdapter, chunk_events, chunk_profiles, const
from sandbox import specs

BASE = "https://a.klaviyo.com"


@pytest.fixture
def adapter():
    return KlaviyoAdapter(
        BackendSettings(provider="klaviyo", base_url=BASE, api_key="pk_test_bulk0")
    )


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def _profiles(count, **extra):
    return [
        events.Profile(email=f"p{i}@example.com", external_id=str(i), **extra)
        for i in range(count)
    ]


def _job(status="queued", total=2, completed=0, failed=0, job_id="JOB1"):
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "id": job_id,
            "attributes": {
                "status": status,
                "created_at": "2026-03-01T10:00:00+00:00",
                "total_count": total,
                "completed_count": completed,
                "failed_count": failed,
            },
        }
    }


def _valid(method, template, body):
    violations = specs.validate_request(
        "klaviyo", method, template, body, content_type=const.MEDIA_TYPE
    )
    assert not violations, [str(v) for v in violations]


def test_bulk_import_profiles(adapter, mocked):
    mocked.post(f"{BASE}/api/profile-bulk-import-jobs", status=202, json=_job())
    job = adapter.bulk_import_profiles(_profiles(2, first_name="P"))
    assert job == BulkJob(job_id="JOB1", status="queued", total=2)
    body = json.loads(mocked.calls[0].request.body)
    _valid("POST", "/api/profile-bulk-import-jobs", body)
    assert body["data"]["type"] == "profile-bulk-import-job"
    profiles = body["data"]["attributes"]["profiles"]["data"]
    assert [pr["attributes"]["email"] for pr in profiles] == [
        "p0@example.com",
        "p1@example.com",
    ]
    assert profiles[0]["attributes"]["first_name"] == "P"
    assert "relationships" not in body["data"]


def test_bulk_import_refuses_more_than_10000(adapter, mocked):
    with pytest.raises(EspError) as info:
        adapter.bulk_import_profiles(_profiles(const.MAX_BULK_PROFILES + 1))
    assert info.value.category == ErrorCategory.DATA
    assert "chunk_profiles" in info.value.message
    assert not mocked.calls


def test_bulk_import_refuses_more_than_5mb(adapter, mocked):
    big = {"Notes": "x" * 60_000}
    with pytest.raises(EspError) as info:
        adapter.bulk_import_profiles(_profiles(100, properties=big))
    assert info.value.category == ErrorCategory.DATA
    assert "5 MB" in info.value.message
    assert not mocked.calls


def test_bulk_import_refuses_profile_over_100kb(adapter, mocked):
    huge = {"Notes": "x" * 110_000}
    with pytest.raises(EspError) as info:
        adapter.bulk_import_profiles(_profiles(1, properties=huge))
    assert info.value.field == "properties"
    assert "p0@example.com" in info.value.message


def test_chunk_profiles_by_count_and_size():
    chunks = list(chunk_profiles(_profiles(25), max_count=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    big = _profiles(100, properties={"Notes": "x" * 60_000})
    chunks = list(chunk_profiles(big))
    assert sum(len(c) for c in chunks) == 100
    assert len(chunks) == 2  # 100 x ~60 KB does not fit 5 MB
    for chunk in chunks:
        size = sum(len(json.dumps({"Notes": "x" * 60_000})) for _ in chunk)
        assert size < const.MAX_BULK_BYTES


def test_get_bulk_job_with_errors(adapter, mocked):
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB1",
        json=_job("complete", total=3, completed=1, failed=2),
    )
    error = {
        "type": "import-error",
        "id": "E1",
        "attributes": {
            "code": "invalid",
            "title": "Invalid",
            "detail": "Invalid email address",
            "source": {"pointer": "/data/attributes/email"},
            "original_payload": {"email": "bad@", "external_id": "4"},
        },
    }
    second = dict(error, id="E2")
    second["attributes"] = dict(error["attributes"], original_payload=None)
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB1/import-errors",
        json={
            "data": [error],
            "links": {
                "next": f"{BASE}/api/profile-bulk-import-jobs/JOB1/import-errors"
                "?page%5Bcursor%5D=abc"
            },
        },
    )
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB1/import-errors",
        json={"data": [second], "links": {}},
    )
    job = adapter.get_bulk_job(BulkJob(job_id="JOB1"))
    assert job.status == "complete"
    assert job.done
    assert (job.total, job.completed, job.failed) == (3, 1, 2)
    assert job.errors == [
        ("bad@", "Invalid email address"),
        ("email", "Invalid email address"),
    ]
    assert len(mocked.calls) == 3


def test_get_bulk_job_all_failed(adapter, mocked):
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB2",
        json=_job("complete", total=1, failed=1, job_id="JOB2"),
    )
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB2/import-errors", json={"data": []}
    )
    job = adapter.get_bulk_job("JOB2")
    assert job.status == "failed"


def test_get_bulk_job_processing_has_no_error_call(adapter, mocked):
    mocked.get(
        f"{BASE}/api/profile-bulk-import-jobs/JOB1",
        json=_job("processing", total=2, completed=1),
    )
    job = adapter.get_bulk_job("JOB1")
    assert job.status == "processing"
    assert not job.done
    assert len(mocked.calls) == 1


def test_bulk_send_events_grouped_per_profile(adapter, mocked, make_order_event):
    mocked.post(f"{BASE}/api/event-bulk-create-jobs", status=202)
    placed = make_order_event(backfill=True)
    fulfilled = make_order_event(events.EventKind.FULFILLED, backfill=True)
    other_order = events.Order(
        **{**placed.order.__dict__, "email": "bob@example.com", "external_id": "8"}
    )
    other = make_order_event(events.EventKind.REFUNDED, order=other_order, lines=())
    job = adapter.bulk_send_events([placed, fulfilled, other])
    assert job.status == "complete"
    assert job.total == 5  # placed + 2 products + fulfilled + refunded
    assert job.job_id.startswith(const.EVENT_JOB_PREFIX)
    assert adapter.get_bulk_job(job) is job
    assert len(mocked.calls) == 1  # nothing to poll at Klaviyo
    body = json.loads(mocked.calls[0].request.body)
    _valid("POST", "/api/event-bulk-create-jobs", body)
    groups = body["data"]["attributes"]["events-bulk-create"]["data"]
    assert [g["type"] for g in groups] == ["event-bulk-create"] * 2
    ada, bob = (g["attributes"] for g in groups)
    assert ada["profile"]["data"]["attributes"]["email"] == "ada@example.com"
    assert bob["profile"]["data"]["attributes"] == {
        "email": "bob@example.com",
        "external_id": "8",
    }
    names = [
        e["attributes"]["metric"]["data"]["attributes"]["name"]
        for e in ada["events"]["data"]
    ]
    assert names == [
        "Placed Order",
        "Ordered Product",
        "Ordered Product",
        "Fulfilled Order",
    ]
    first = ada["events"]["data"][0]["attributes"]
    assert first["backfill"] is True
    assert first["unique_id"] == "odoo-db-sale.order-42-placed"


def test_bulk_send_events_limit_and_chunking(adapter, mocked, make_order_event):
    many = [
        make_order_event(events.EventKind.FULFILLED, unique_id=f"f-{i}", lines=())
        for i in range(const.MAX_BULK_EVENTS + 1)
    ]
    with pytest.raises(EspError) as info:
        adapter._send_event_job(many)  # one job never exceeds the limit
    assert info.value.category == ErrorCategory.DATA
    assert not mocked.calls
    mocked.post(f"{BASE}/api/event-bulk-create-jobs", status=202)
    job = adapter.bulk_send_events(many)  # the adapter splits by itself
    posts = [c for c in mocked.calls if c.request.method == "POST"]
    assert len(posts) == 2
    assert job.total == const.MAX_BULK_EVENTS + 1 and job.done
    chunks = list(chunk_events(many))
    assert [len(c) for c in chunks] == [1000, 1]
    placed = [make_order_event(unique_id=f"p-{i}") for i in range(5)]  # 3 each
    assert [len(c) for c in chunk_events(placed, max_events=7)] == [2, 2, 1]
