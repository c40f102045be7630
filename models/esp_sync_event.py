# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import json
import random
import time
import uuid
import zlib
from datetime import timedelta

from odoo import _, api, fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import EspError


class EspSyncEvent(models.Model):
    """The ledger: what each backend must learn, and whether it did.

    A hook writes one row per change and backend inside the user's
    transaction; the delivery job reads the pending rows of one ordering
    group (a sale order, a partner) oldest first and stops at the first
    failure, so Placed always reaches the ESP before Fulfilled or Refunded.
    """

    _name = "esp.sync.event"
    _description = "ESP Sync Event"
    _order = "occurred_at desc, id desc"
    _rec_name = "idempotency_key"

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    provider = fields.Selection(related="backend_id.provider")
    event_type = fields.Selection(const.EVENT_TYPES, required=True, index=True)
    res_model = fields.Char("Model", required=True, index=True)
    res_id = fields.Many2oneReference("Record id", model_field="res_model")
    record_name = fields.Char()
    group_ref = fields.Char(
        "Ordering group",
        required=True,
        index=True,
        help="Events of one group are delivered one after the other, oldest first.",
    )
    sequence = fields.Integer(help="Tie-break inside a group (Placed first).")
    idempotency_key = fields.Char(required=True, readonly=True)
    occurred_at = fields.Datetime(
        required=True, default=fields.Datetime.now, index=True
    )
    mode = fields.Selection(const.SYNC_MODES, required=True, default="realtime")
    priority = fields.Integer(default=const.PRIORITY_BULK)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    sent_at = fields.Datetime(readonly=True)
    attempts = fields.Integer(readonly=True)
    payload_hash = fields.Char(readonly=True)
    note = fields.Char(readonly=True, help="Why it was skipped or what failed.")
    exception_id = fields.Many2one("esp.sync.exception", readonly=True, index=True)
    latency_seconds = fields.Float(
        "Latency (s)",
        readonly=True,
        aggregator="avg",
        help="Seconds from the change in Odoo to its delivery.",
    )

    _sql_constraints = [
        (
            "idempotency_key_unique",
            "unique(backend_id, idempotency_key)",
            "An event with this idempotency key already exists for this backend.",
        )
    ]

    @api.depends("event_type", "record_name")
    def _compute_display_name(self):
        labels = dict(const.EVENT_TYPES)
        for event in self:
            event.display_name = f"{labels[event.event_type]}: {event.record_name}"

    # ------------------------------------------------------------ recording
    @api.model
    def _esp_record(self, backend, event_type, record, group=None, occurred_at=None):
        """Record that ``backend`` must learn ``event_type`` about ``record``.

        Profile and consent events coalesce: while one is pending for the same
        record, it is reused (the payload is built at delivery time from the
        latest data). Order events get a deterministic idempotency key; the
        same transition recorded twice is kept once.
        Returns the event (new or reused).
        """
        group = group or record
        stream = const.EVENT_STREAM[event_type]
        mode = backend._esp_stream_mode(stream)
        urgent = event_type in const.URGENT_EVENTS
        events = self.sudo()
        base_key = f"{record._name}:{record.id}:{event_type}"
        domain = [
            ("backend_id", "=", backend.id),
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("event_type", "=", event_type),
        ]
        if event_type in ("profile", "consent", "catalog", "inventory"):
            pending = events.search(domain + [("state", "=", "pending")], limit=1)
            if pending:
                # Coalesce; the job's identity key keeps one job per group.
                pending.occurred_at = occurred_at or fields.Datetime.now()
                if pending.mode == "realtime":
                    backend._esp_enqueue_group(pending.group_ref, urgent=urgent)
                return pending
            # Upserts are idempotent at the ESP: the key only has to be unique.
            key = f"{base_key}:{uuid.uuid4().hex[:12]}"
        else:
            # An order transition is recorded once per occurrence: a second
            # Placed for the same order needs a Cancelled in between.
            latest = events.search(domain, order="id desc", limit=1)
            if latest and not self._esp_reoccurs(backend, event_type, record, latest):
                return latest
            count = events.search_count(domain)
            key = f"{base_key}:{count + 1}" if count else base_key
        group_ref = f"{group._name},{group.id}"
        if event_type == "consent":
            # Consent travels on its own: a failed profile update must never
            # hold back an opt-out.
            group_ref += ":consent"
        event = events.create(
            {
                "backend_id": backend.id,
                "event_type": event_type,
                "res_model": record._name,
                "res_id": record.id,
                "record_name": record.display_name,
                "group_ref": group_ref,
                "sequence": const.EVENT_SEQUENCE[event_type],
                "idempotency_key": key,
                "occurred_at": occurred_at or fields.Datetime.now(),
                "mode": mode,
                "priority": const.PRIORITY_URGENT if urgent else const.PRIORITY_BULK,
            }
        )
        if mode == "realtime":
            backend._esp_enqueue_group(event.group_ref, urgent=urgent)
        return event

    @api.model
    def _esp_reoccurs(self, backend, event_type, record, previous):
        """True when ``event_type`` may happen again for ``record``.

        Only Placed and Cancelled alternate (an order cancelled and confirmed
        again); pickings and credit notes are done or posted once.
        """
        if event_type not in ("order_placed", "order_cancelled"):
            return False
        other = "order_cancelled" if event_type == "order_placed" else "order_placed"
        later_other = self.sudo().search_count(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("event_type", "=", other),
                ("id", ">", previous[0].id),
            ]
        )
        return bool(later_other)

    # ------------------------------------------------------------- delivery
    @api.model
    def _esp_deliver_pending(self, backend, group_ref):
        """Deliver the pending events of ``group_ref`` oldest first.

        Stops at the first event that cannot be delivered: later events of the
        group wait, so the ESP never sees Fulfilled before Placed.
        """
        if not backend.active:
            # Archived (or a neutralized copy): keep everything pending.
            return _("Backend archived: nothing sent.")
        self._esp_lock_group(backend, group_ref)
        events = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("group_ref", "=", group_ref),
                ("state", "in", ("pending", "failed")),
            ],
            order="id",
        )
        blocking = events.filtered(lambda e: e.state == "failed")[:1]
        pending = events.filtered(lambda e: e.state == "pending")
        if blocking:
            note = _(
                "Waiting for %(event)s, which failed.", event=blocking.display_name
            )
            pending.write({"note": note})
            return note
        if not pending:
            return _("Nothing to deliver.")
        try:
            adapter = backend._esp_adapter()
        except EspError as err:
            pending[:1]._esp_fail(err)
            return str(err)
        delivered = 0
        for event in pending:
            try:
                result = event._esp_deliver(adapter)
            except EspError as err:
                if err.retryable:
                    return event._esp_retry_later(err, delivered)
                event._esp_fail(err)
                break
            delivered += 1
            _remember_endpoint(backend, adapter)
            pause = _rate_limit_pause(result)
            if pause and event != pending[-1]:
                # The ESP's window is used up: resume when it reopens rather
                # than collect a 429 for each remaining event.
                backend._esp_enqueue_group(
                    group_ref,
                    urgent=event.priority <= const.PRIORITY_URGENT,
                    eta=fields.Datetime.now() + timedelta(seconds=pause),
                )
                return _(
                    "%(count)s event(s) delivered; pausing %(s)ss for the ESP's "
                    "rate limit.",
                    count=delivered,
                    s=int(pause),
                )
        return _("%(count)s event(s) delivered.", count=delivered)

    @api.model
    def _esp_lock_group(self, backend, group_ref):
        """One job at a time per ordering group, whatever its channel.

        A transaction-level advisory lock: a second job for the same group
        (an urgent one next to a bulk retry) waits and retries instead of
        sending the same events twice or out of order.
        """
        key = zlib.crc32(group_ref.encode()) - 2**31
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", (backend.id, key)
        )
        if not self.env.cr.fetchone()[0]:
            raise RetryableJobError(
                _("Another job is delivering %s.", group_ref),
                seconds=5,
                ignore_retry=True,
            )

    def _esp_deliver(self, adapter):
        """Build the plain values of this event and send them; raise EspError."""
        self.ensure_one()
        record = self.env[self.res_model].sudo().browse(self.res_id).exists()
        if not record:
            self._esp_mark_skipped(_("The record was deleted before delivery."))
            return
        values = self.env["esp.sync.values"]._esp_build(self, record)
        if values is None:
            return  # the builder marked the event skipped and said why
        # Audience routing (Mailchimp): the adapter of the partner's audience.
        adapter, skipped = self.env["esp.audience.rule"]._esp_routed_adapter(
            self.backend_id, adapter, record
        )
        if skipped:
            self._esp_mark_skipped(skipped)
            return
        payload_hash = _hash(values)
        if self.backend_id.audience_rule_ids:
            payload_hash = _hash([values, adapter.settings.mailchimp_list_id])
        binding = self.env["esp.sync.binding"]._esp_get(self.backend_id, record)
        if self.event_type in ("profile", "catalog") and (
            binding.last_payload_hash == payload_hash and binding.state == "synced"
        ):
            self._esp_mark_skipped(_("Unchanged since the last delivery."))
            return
        self.attempts += 1
        result = _send(adapter, self.event_type, values)
        now = fields.Datetime.now()
        self.write(
            {
                "state": "skipped" if result.skipped_reason else "sent",
                "note": result.skipped_reason or False,
                "sent_at": now,
                "payload_hash": payload_hash,
                "latency_seconds": (now - self.occurred_at).total_seconds(),
            }
        )
        binding._esp_mark_synced(self, result, payload_hash)
        self.env["esp.sync.exception"]._esp_resolve(self.backend_id, record)
        return result

    def _esp_mark_skipped(self, reason):
        self.write(
            {"state": "skipped", "note": reason, "sent_at": fields.Datetime.now()}
        )

    def _esp_fail(self, error):
        """Record a delivery that cannot succeed until someone fixes the cause."""
        self.ensure_one()
        record = self.env[self.res_model].sudo().browse(self.res_id).exists()
        exception = self.env["esp.sync.exception"]._esp_record(
            self.backend_id, record or self.backend_id, error, self
        )
        self.write(
            {"state": "failed", "note": str(error)[:250], "exception_id": exception.id}
        )
        if record:
            binding = self.env["esp.sync.binding"]._esp_get(self.backend_id, record)
            binding._esp_mark_failed(str(error))
        return exception

    def _esp_retry_later(self, error, delivered):
        """Retry a rate-limited or unreachable delivery, with a cap.

        If events of this job were already delivered, their success must
        commit: the job ends normally and a follow-up job is enqueued. Else
        the job raises RetryableJobError and queue_job retries it.
        """
        self.ensure_one()
        job = (
            self.env["queue.job"]
            .sudo()
            .search([("uuid", "=", self.env.context.get("job_uuid") or "")], limit=1)
        )
        attempt = max(job.retry, self.attempts)
        if attempt + 1 >= const.MAX_ATTEMPTS:
            self._esp_fail(
                EspError(
                    _(
                        "Gave up after %(count)s attempts: %(error)s",
                        count=attempt + 1,
                        error=error.message,
                    ),
                    category=error.category,
                    status=error.status,
                )
            )
            return str(error)
        seconds = _backoff(attempt, error.retry_after)
        self.write({"note": _("Retrying in %(s)ss: %(e)s", s=int(seconds), e=error)})
        if delivered:
            self.backend_id._esp_enqueue_group(
                self.group_ref,
                urgent=self.priority <= const.PRIORITY_URGENT,
                eta=fields.Datetime.now() + timedelta(seconds=seconds),
            )
            return str(error)
        raise RetryableJobError(str(error), seconds=seconds)

    @api.model
    def _cron_vacuum(self, days=90):
        """Forget delivered profile, consent and catalogue rows after ``days``.

        Order events stay: their keys are what the ESPs de-duplicate on.
        """
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=days)
        old = self.sudo().search(
            [
                ("event_type", "in", ("profile", "consent", "catalog", "inventory")),
                ("state", "in", ("sent", "skipped")),
                ("occurred_at", "<", limit),
            ]
        )
        old.unlink()
        return len(old)

    def action_retry(self):
        """Send failed or skipped events again (after the cause was fixed).

        Managers may not write the ledger: check they can see these events,
        then reset them as superuser.
        """
        if not self.env.su:
            # Local import: the lead owns this module's header (move it up later).
            from odoo.exceptions import AccessError

            if not self.env.user.has_group("esp_sync.group_esp_sync_manager"):
                raise AccessError(_("Only ESP Sync managers can retry deliveries."))
            self.check_access("read")
        events = self.sudo()
        events.write({"state": "pending", "exception_id": False, "note": False})
        for backend in events.backend_id:
            for group_ref in set(
                events.filtered(lambda e, b=backend: e.backend_id == b).mapped(
                    "group_ref"
                )
            ):
                backend._esp_enqueue_group(group_ref, urgent=True)
        return True


def _remember_endpoint(backend, adapter):
    """Keep the API endpoint the adapter discovered (Dotdigital's regional
    ``ApiEndpoint``) so later jobs skip the account-info lookup."""
    endpoint = getattr(adapter, "api_endpoint", "")
    if endpoint and endpoint != backend.sudo().dotdigital_api_endpoint:
        backend.sudo().dotdigital_api_endpoint = endpoint


def _send(adapter, event_type, values):
    """Dispatch plain values to the adapter method for this event type."""
    if event_type == "profile":
        return adapter.upsert_profile(values)
    if event_type == "consent":
        return adapter.update_consent(values)
    if event_type == "catalog":
        return adapter.upsert_catalog_item(values)
    if event_type == "inventory":
        return adapter.update_inventory(values)
    return adapter.send_order_event(values)


def _rate_limit_pause(result):
    """Seconds until the ESP's rate-limit window reopens, if none is left.

    Reads what the adapter recorded from ``RateLimit-*`` / ``X-RateLimit-*``
    headers; a reset given as a Unix time is turned into a delay.
    """
    info = (result.detail or {}).get("rate_limit") if result else None
    if not info or info.get("remaining") is None or info["remaining"] > 0:
        return 0
    reset = info.get("reset") or 1.0
    if reset > 1e9:
        reset -= time.time()
    return min(max(float(reset), 1.0), const.RETRY_CAP_SECONDS)


def _backoff(attempt, retry_after=None):
    """Seconds before the next try: the ESP's Retry-After, else exponential."""
    if retry_after:
        return min(float(retry_after), const.RETRY_CAP_SECONDS)
    seconds = const.RETRY_BASE_SECONDS * (2**attempt)
    return min(seconds, const.RETRY_CAP_SECONDS) * random.uniform(0.8, 1.0)


def _hash(values):
    """A stable digest of the plain values delivered (dataclasses included)."""
    raw = json.dumps(values, default=_jsonable, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
