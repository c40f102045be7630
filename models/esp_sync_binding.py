# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.tools import SQL

from .. import const


class EspSyncBinding(models.Model):
    """Where one stream of one Odoo record stands in one backend.

    One row per (backend, record, stream): the consent and profile of one
    person are delivered by different jobs, each writing its own row, so two
    channels never race on one binding, and each stream's state is its own.
    """

    _name = "esp.sync.binding"
    _description = "ESP Sync Status"
    _order = "last_sync_at desc, id desc"

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    provider = fields.Selection(related="backend_id.provider")
    res_model = fields.Char("Model", required=True, index=True)
    res_id = fields.Many2oneReference("Record id", model_field="res_model", index=True)
    stream = fields.Selection(
        [(code, label) for code, label in const.STREAMS.items()],
        required=True,
        default="profile",
    )
    partner_id = fields.Many2one("res.partner", ondelete="cascade", index=True)
    sale_order_id = fields.Many2one("sale.order", ondelete="cascade", index=True)
    external_id = fields.Char("ESP id", readonly=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("synced", "Synced"),
            ("failed", "Failed"),
        ],
        default="pending",
        required=True,
    )
    last_sync_at = fields.Datetime("Last sync", readonly=True)
    last_error = fields.Char(readonly=True)
    last_payload_hash = fields.Char(readonly=True)
    last_consent_sent = fields.Char(
        readonly=True,
        help="The consent state esp_sync last told the ESP (subscribed, "
        "unsubscribed, suppressed): what the ESP reports back with this state "
        "is an echo, not a new decision.",
    )
    last_consent_sent_at = fields.Datetime(readonly=True)
    suppression_lifted_at = fields.Datetime(
        readonly=True,
        help="When esp_sync last asked the ESP to lift the suppression it had "
        "set: a suppression read back from before then (or a few minutes "
        "after, the ESP's jobs being asynchronous) is that one, not news.",
    )
    last_quantity_sent = fields.Float(
        readonly=True,
        help="Catalogue: the quantity a customer could buy that the ESP was "
        "last told (back in stock when it was 0 and is no longer).",
    )
    audience_id = fields.Char(
        readonly=True,
        help="Mailchimp audience routing: the audience (list id) the person "
        "was last written to. Routed elsewhere, the member moves there, keeps "
        "its status and is archived here.",
    )
    pending_count = fields.Integer(compute="_compute_pending_count")

    _sql_constraints = [
        (
            "record_unique",
            "unique(backend_id, res_model, res_id, stream)",
            "A record has one sync status per backend and stream.",
        )
    ]

    def _compute_pending_count(self):
        events = self.env["esp.sync.event"].sudo()
        for binding in self:
            binding.pending_count = events.search_count(
                [
                    ("backend_id", "=", binding.backend_id.id),
                    ("res_model", "=", binding.res_model),
                    ("res_id", "=", binding.res_id),
                    ("state", "=", "pending"),
                ]
            )

    @api.model
    def _esp_get(self, backend, record, stream="profile"):
        """Return the binding of ``record``'s ``stream`` on ``backend``.

        Created race-free (``INSERT ... ON CONFLICT DO NOTHING``): two jobs
        may reach the same record at once.
        """
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO esp_sync_binding (
                    backend_id, company_id, res_model, res_id, stream,
                    partner_id, sale_order_id, state, create_uid, create_date,
                    write_uid, write_date)
                SELECT %s, %s, %s, %s, %s, %s, %s, 'pending', %s,
                       now() at time zone 'UTC', %s, now() at time zone 'UTC'
                ON CONFLICT (backend_id, res_model, res_id, stream) DO NOTHING
                """,
                backend.id,
                backend.company_id.id,
                record._name,
                record.id,
                stream,
                record.id if record._name == "res.partner" else None,
                record.id if record._name == "sale.order" else None,
                self.env.uid,
                self.env.uid,
            )
        )
        if self.env.cr.rowcount:
            # Inserted behind the ORM's back: forms must see the new row.
            self.env["res.partner"].invalidate_model(["esp_binding_ids"])
            self.env["sale.order"].invalidate_model(["esp_binding_ids"])
        return self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("stream", "=", stream),
            ],
            limit=1,
        )

    def _esp_mark_synced(self, event, result, payload_hash, values=None):
        vals = {
            "state": "synced",
            "last_sync_at": fields.Datetime.now(),
            "last_error": False,
        }
        consent = (
            getattr(values, "status", None) if event.event_type == "consent" else None
        )
        if consent is not None and not result.skipped_reason:
            vals["last_consent_sent"] = (
                "suppressed" if values.suppressed else consent.value
            )
            vals["last_consent_sent_at"] = vals["last_sync_at"]
            if values.lift_suppression and not values.suppressed:
                vals["suppression_lifted_at"] = vals["last_sync_at"]
        if event.event_type in ("profile", "catalog"):
            vals["last_payload_hash"] = payload_hash
        if event.event_type == "inventory" and values and not result.skipped_reason:
            vals["last_quantity_sent"] = values[0].quantity
        if result.external_id:
            vals["external_id"] = result.external_id
        self.write(vals)

    def _esp_mark_failed(self, message):
        newly_failed = self.filtered(lambda b: b.state != "failed")
        self.write({"state": "failed", "last_error": message[:250]})
        for binding in newly_failed:
            binding._esp_post_failure(message)

    def _esp_post_failure(self, message):
        """Say on the record's chatter that its sync failed (no credentials)."""
        record = self.env[self.res_model].browse(self.res_id).exists()
        if record and hasattr(record, "message_post"):
            record.sudo().message_post(
                body=_(
                    "Sync to %(backend)s failed: %(error)s",
                    backend=self.backend_id.name,
                    error=message,
                ),
                subtype_xmlid="mail.mt_note",
            )

    def action_sync_now(self):
        """Queue a fresh delivery of the bound record, on the urgent channel."""
        self.env["esp.sync.delivery"]._esp_check_admin_or_manager()
        self.check_access("read")  # the bindings of the user's companies only
        for binding in self.sudo():
            record = self.env[binding.res_model].browse(binding.res_id).exists()
            if record:
                record._esp_sync_now(binding.backend_id)
        return True
