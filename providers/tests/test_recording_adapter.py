"""The fake adapter engine tests use: records calls, fails on demand."""

import datetime

import pytest

from providers import events
from providers.base import (
    BackendSettings,
    BulkJob,
    DeliveryResult,
    ErrorCategory,
    EspAdapter,
    EspError,
)
from providers.testing import RecordingAdapter


@pytest.fixture
def adapter():
    return RecordingAdapter(BackendSettings(provider="klaviyo", base_url=""))


def test_is_an_adapter_of_the_backend_provider(adapter):
    assert isinstance(adapter, EspAdapter)
    assert adapter.provider == "klaviyo"
    assert RecordingAdapter().provider == "recording"


def test_records_calls_as_plain_values(adapter, sample_profile, make_consent):
    result = adapter.upsert_profile(sample_profile)
    assert isinstance(result, DeliveryResult) and not result.skipped_reason
    adapter.update_consent(make_consent())
    assert adapter.methods() == ["upsert_profile", "update_consent"]
    ((profile,),) = adapter.calls_of("upsert_profile")
    assert profile["email"] == "ada@example.com"
    assert profile["address"]["city"] == "London"
    assert adapter.calls[0].method == "upsert_profile"


def test_bulk_calls_record_lists_and_answer_a_complete_job(adapter, sample_profile):
    job = adapter.bulk_import_profiles(iter([sample_profile, sample_profile]))
    assert job.done and job.total == 2
    assert adapter.get_bulk_job(job) is job
    ((profiles,),) = adapter.calls_of("bulk_import_profiles")
    assert [p["email"] for p in profiles] == ["ada@example.com"] * 2


def test_fails_the_next_n_calls_of_one_method(adapter, sample_profile, make_consent):
    error = EspError("slow down", category=ErrorCategory.RATE_LIMIT, retry_after=3)
    adapter.fail("upsert_profile", error, times=2)
    for _attempt in range(2):
        with pytest.raises(EspError) as info:
            adapter.upsert_profile(sample_profile)
        assert info.value is error
    adapter.update_consent(make_consent())  # other methods are unaffected
    assert adapter.upsert_profile(sample_profile).requests == 1
    assert adapter.methods() == ["upsert_profile"] * 2 + [
        "update_consent",
        "upsert_profile",
    ]


def test_answers_can_be_set(adapter):
    since = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    update = events.ConsentUpdate(
        email="ada@example.com", status="unsubscribed", occurred_at=since
    )
    adapter.consent_updates = [update]
    assert adapter.fetch_consent_updates(since) == [update]
    adapter.returns["send_order_event"] = DeliveryResult(external_id="E1")
    assert adapter.send_order_event(object()).external_id == "E1"
    assert adapter.calls_of("fetch_consent_updates") == [(since,)]


def test_never_sends_http(adapter):
    with pytest.raises(AssertionError):
        adapter._request("GET", "/anything")
    job = BulkJob("j1")
    assert adapter.get_bulk_job(job) is job


def test_answers_are_scripted_in_turn(adapter, sample_profile):
    throttled = EspError("slow", category="rate_limit", retry_after=5)
    window = DeliveryResult(detail={"rate_limit": {"remaining": 0, "reset": 7}})
    adapter.answer("upsert_profile", window, throttled)
    assert adapter.upsert_profile(sample_profile) is window
    with pytest.raises(EspError):
        adapter.upsert_profile(sample_profile)
    assert adapter.upsert_profile(sample_profile).detail == {}, "then the default"
    assert len(adapter.calls_of("upsert_profile")) == 3
