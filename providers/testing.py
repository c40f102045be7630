"""A fake adapter for engine tests: records calls, sends nothing.

``RecordingAdapter`` answers every :class:`base.EspAdapter` method without
HTTP, records each call as ``Call(method, args)`` with plain values (the
engine's dataclasses as dicts) and can be told to fail::

    adapter = RecordingAdapter(settings)
    adapter.fail("upsert_profile", EspError("slow", category="rate_limit"))
    ...  # the engine delivers: the first upsert raises, the next succeeds
    assert adapter.methods() == ["upsert_profile", "upsert_profile"]
"""

import collections
import dataclasses

from .base import BackendSettings, BulkJob, DeliveryResult, EspAdapter

Call = collections.namedtuple("Call", "method args")


def plain(value):
    """``value`` with dataclasses turned into dicts, sequences into lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


class _NoTransport:
    """Refuses to send: a recording adapter must never reach the network."""

    def send(self, method, url, **kwargs):
        raise AssertionError(f"RecordingAdapter sent {method} {url}")


class RecordingAdapter(EspAdapter):
    """Records every call; answers with :attr:`returns` or defaults."""

    def __init__(self, settings=None, transport=None):
        settings = settings or BackendSettings(provider="recording", base_url="")
        super().__init__(settings, transport=transport or _NoTransport())
        self.provider = settings.provider
        self.calls = []
        self.returns = {}  # method -> value answered instead of the default
        self.consent_updates = []  # what fetch_consent_updates answers
        self._script = collections.defaultdict(collections.deque)

    # --- driving and reading the fake -----------------------------------------
    def fail(self, method, error, times=1):
        """Make the next ``times`` calls of ``method`` raise ``error``."""
        self._script[method].extend([error] * times)

    def answer(self, method, *outcomes):
        """Script the next calls of ``method``: each outcome in turn is
        returned, or raised when it is an exception; then the defaults."""
        self._script[method].extend(outcomes)

    def methods(self):
        """The names of the methods called, in order."""
        return [call.method for call in self.calls]

    def calls_of(self, method):
        """The plain arguments of each call of ``method``, in order."""
        return [call.args for call in self.calls if call.method == method]

    def _record(self, method, *args, default=None):
        self.calls.append(Call(method, tuple(plain(arg) for arg in args)))
        if self._script[method]:
            outcome = self._script[method].popleft()
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return self.returns.get(method, default)

    # --- the adapter interface ------------------------------------------------
    def test_connection(self):
        return self._record("test_connection", default="Recording adapter")

    def upsert_profile(self, profile):
        return self._record("upsert_profile", profile, default=DeliveryResult())

    def update_consent(self, consent):
        return self._record("update_consent", consent, default=DeliveryResult())

    def send_order_event(self, event):
        return self._record("send_order_event", event, default=DeliveryResult())

    def change_email(self, change):
        return self._record("change_email", change, default=DeliveryResult())

    def upsert_catalog_item(self, item):
        return self._record("upsert_catalog_item", item, default=DeliveryResult())

    def remove_catalog_item(self, removal):
        return self._record("remove_catalog_item", removal, default=DeliveryResult())

    def remove_catalog_variant(self, removal):
        return self._record("remove_catalog_variant", removal, default=DeliveryResult())

    def update_inventory(self, levels):
        levels = list(levels)
        return self._record("update_inventory", levels, default=DeliveryResult())

    def begin_backfill(self):
        self._record("begin_backfill")

    def end_backfill(self):
        self._record("end_backfill")

    def bulk_import_profiles(self, profiles):
        return self._bulk("bulk_import_profiles", list(profiles))

    def bulk_send_events(self, events):
        return self._bulk("bulk_send_events", list(events))

    def _bulk(self, method, values):
        job = BulkJob(
            f"{method}-{len(self.calls) + 1}",
            "complete",
            total=len(values),
            completed=len(values),
        )
        return self._record(method, values, default=job)

    def get_bulk_job(self, job):
        return self._record("get_bulk_job", job, default=job)

    def fetch_consent_updates(self, since):
        return self._record(
            "fetch_consent_updates", since, default=list(self.consent_updates)
        )

    def parse_webhook(self, headers, body):
        return self._record("parse_webhook", dict(headers or {}), body, default=[])
