# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Delivery, steps 4 and 5: one unit sent and its outcome recorded."""

from datetime import timedelta

from odoo import _, api, fields, models

from ..providers import EspError
from ..providers import events as ev
from ..providers.retry import counts_toward_giving_up, retry_delay
from .esp_sync_delivery_support import remember_endpoint
from .esp_sync_values import EspSkip, payload_hash

ADAPTER_METHOD = {
    ev.Profile: "upsert_profile",
    ev.Consent: "update_consent",
    ev.EmailChange: "change_email",
    ev.OrderEvent: "send_order_event",
    ev.CatalogItem: "upsert_catalog_item",
    ev.CatalogRemoval: "remove_catalog_item",
    list: "update_inventory",
    ev.BackInStockRequest: "subscribe_back_in_stock",
    ev.SmsConsent: "update_sms_consent",
}


class EspSyncDeliveryUnit(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    # ------------------------------------------------------------- 4. unit
    @api.model
    def _esp_deliver_unit(self, backend, adapter, unit):
        """Build, route, send one unit and record it; raise EspError on failure.

        Returns the adapter's DeliveryResult, or None when nothing was sent.
        """
        row = unit[0]
        if row.event_type == "erasure":
            return self._esp_deliver_erasure(backend, adapter, row)
        record = self.env[row.res_model].sudo().browse(row.res_id).exists()
        if not record:
            self._esp_mark_done(unit, _("The record was deleted before delivery."))
            return None
        partner = record._esp_partner()[:1]
        if partner.esp_erased_at and not self._esp_sent_anonymously(
            backend, row, partner
        ):
            self._esp_mark_done(unit, _("The person was erased at the ESPs."))
            return None
        try:
            values = self.env["esp.sync.values"]._esp_build(row, record)
        except EspSkip as skip:
            self._esp_mark_done(unit, skip.reason)
            if skip.capture:
                self._esp_capture_instead(backend, *skip.capture)
            return None
        # Audience routing (Mailchimp): the adapter of the partner's audience.
        adapter, skipped = self.env["esp.audience.rule"]._esp_routed_adapter(
            backend, adapter, record
        )
        if skipped:
            self._esp_mark_done(unit, skipped)
            return None
        digest = payload_hash(
            [values, adapter.settings.mailchimp_list_id]
            if backend.audience_rule_ids
            else values
        )
        binding = self.env["esp.sync.binding"]._esp_get(backend, record, row.stream)
        rules = self.env["esp.audience.rule"]
        values = rules._esp_with_audience_move(backend, binding, adapter, values)
        if row.event_type in ("profile", "catalog") and (
            binding.last_payload_hash == digest and binding.state == "synced"
        ):
            self._esp_mark_done(unit, _("Unchanged since the last delivery."))
            return None
        unheard = self._esp_unheard_opt_out(backend, adapter, record, values)
        if unheard:
            self._esp_mark_done(unit, unheard)
            return None
        result = getattr(adapter, ADAPTER_METHOD[type(values)])(values)
        self._esp_mark_sent(backend, adapter, unit, result, digest)
        binding._esp_mark_synced(row, result, digest, values)
        rules._esp_remember_audience(backend, binding, adapter, values)
        self.env["esp.sync.exception"]._esp_resolve(backend, record, row.stream)
        self._esp_after_success(backend, row, record, values)
        return result

    @api.model
    def _esp_mark_sent(self, backend, adapter, unit, result, digest):
        """The ledger rows of a delivery the ESP accepted (or the adapter
        skipped), with what was sent and how long it took."""
        remember_endpoint(backend, adapter)
        now = fields.Datetime.now()
        for event in unit:
            event.write(
                {
                    "state": "skipped" if result.skipped_reason else "sent",
                    "note": result.skipped_reason or False,
                    "sent_at": now,
                    "payload_hash": digest,
                    "attempts": event.attempts + 1,
                    "retry_since": False,
                    "latency_seconds": (now - event.occurred_at).total_seconds(),
                }
            )

    @api.model
    def _esp_capture_instead(self, backend, records, event_type):
        """Record ``event_type`` unless a row of it already waits (merged)."""
        waiting = (
            self.env["esp.sync.event"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("event_type", "=", event_type),
                    ("state", "=", "pending"),
                ],
                limit=1,
            )
        )
        if not waiting:
            records._esp_capture(event_type, backend)

    @api.model
    def _esp_after_success(self, backend, row, record, values):
        """Whoever a delivery may have created at the ESP carries their consent.

        A customer blacklisted before they entered the scope, then buying,
        must be suppressed at the ESP, not left as a fresh contact.
        """
        partner = record._esp_partner() if hasattr(record, "_esp_partner") else None
        if row.event_type not in ("profile", "order_placed", "email_change"):
            return
        if not partner or partner._esp_consent_status() != "unsubscribed":
            return  # opt-ins travel with their own consent capture
        known = (
            self.env["esp.sync.event"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("event_type", "=", "consent"),
                ],
                limit=1,
            )
        )
        if not known:
            partner._esp_capture("consent", backend)

    @api.model
    def _esp_mark_done(self, rows, reason):
        rows.write(
            {
                "state": "skipped",
                "note": reason,
                "sent_at": fields.Datetime.now(),
                "retry_since": False,
            }
        )

    # ------------------------------------------------------ 5. retry / fail
    @api.model
    def _esp_retry_later(self, rows, error):
        """Retry after the one policy's delay, or give up past the budget."""
        now = fields.Datetime.now()
        counted = counts_toward_giving_up(error)
        head = rows[0]
        since = head.retry_since or now
        budget = timedelta(hours=head.backend_id.retry_budget_hours or 0)
        if counted and now - since >= budget:
            self._esp_fail(
                rows,
                EspError(
                    _(
                        "Gave up after %(count)s attempts over %(hours)s hours: "
                        "%(error)s",
                        count=head.attempts + 1,
                        hours=round((now - since).total_seconds() / 3600, 1),
                        error=error.message,
                    ),
                    category=error.category,
                    status=error.status,
                ),
            )
            return
        # The exponent grows only with failures the ESP gave no wait for: an
        # outage that says Retry-After does not lengthen the next back-off.
        guided = bool(error.retry_after) or not counted
        seconds = retry_delay(error, head.backoff_level)
        rows.write(
            {
                "attempts": head.attempts + (1 if counted else 0),
                "backoff_level": head.backoff_level + (0 if guided else 1),
                "retry_since": since if counted else head.retry_since,
                "due_at": now + timedelta(seconds=seconds),
                "note": _(
                    "Retrying in %(s)ss: %(e)s",
                    s=int(seconds),
                    e=head.backend_id._esp_redact(error),
                )[:250],
            }
        )

    @api.model
    def _esp_fail(self, rows, error, trace=None):
        """Record a delivery that cannot succeed until someone fixes the cause."""
        head = rows[0]
        record = self.env[head.res_model].sudo().browse(head.res_id).exists()
        exception = self.env["esp.sync.exception"]._esp_record(
            head.backend_id,
            record or head.backend_id,
            error,
            stream=head.stream,
            trace=trace,
        )
        message = head.backend_id._esp_redact(error)
        rows.write(
            {
                "state": "failed",
                "note": message[:250],
                "exception_id": exception.id,
                "attempts": head.attempts + 1,
            }
        )
        if record:
            self.env["esp.sync.binding"]._esp_get(
                head.backend_id, record, head.stream
            )._esp_mark_failed(message)
        return exception

    @api.model
    def _esp_record_unexpected(self, backend, group_ref, error, trace):
        """A bug or an unknown error: an exception for IT, rows retry later."""
        pending = self.env["esp.sync.event"]._esp_group_rows(
            backend, group_ref, ("pending",)
        )
        rows = pending[:1]
        if not rows:
            return
        unexpected = EspError(
            _("Unexpected error: %(error)s", error=f"{type(error).__name__}: {error}"),
            category="transient",
            code="unexpected",
        )
        record = self.env[rows.res_model].sudo().browse(rows.res_id).exists()
        self.env["esp.sync.exception"]._esp_record(
            backend,
            record or backend,
            unexpected,
            stream=rows.stream,
            trace=trace,
            category="unexpected",
        )
        self._esp_retry_later(rows, unexpected)
        if rows.state == "pending":
            self._esp_hold(pending[1:], rows)
