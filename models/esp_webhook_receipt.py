# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib

from odoo import api, fields, models
from odoo.tools import SQL

from ..providers import EspError
from ..providers.klaviyo import const as klaviyo_const

# Longer than any signed timestamp is accepted (5 minutes) and than an ESP
# retries a delivery: a replay inside it is refused by this store, one after
# it by the timestamp window.
KEEP_DAYS = 7


class EspWebhookReceipt(models.Model):
    """A webhook delivery or event id already received (replay protection).

    Only digests are kept: nothing here says who the call was about.
    """

    _name = "esp.webhook.receipt"
    _description = "ESP Webhook Receipt"
    _log_access = False

    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    key = fields.Char(required=True, help="SHA-256 of the delivery or event id.")
    received_at = fields.Datetime(required=True, default=fields.Datetime.now)

    _sql_constraints = [
        ("key_unique", "unique(backend_id, key)", "Each receipt is kept once."),
    ]

    @api.model
    def _esp_claim(self, backend, keys):
        """Record ``keys`` for ``backend``; return those never seen before.

        One ``INSERT ... ON CONFLICT DO NOTHING``: two calls racing with the
        same key cannot both claim it.
        """
        digests = {
            hashlib.sha256(key.encode()).hexdigest(): key for key in dict.fromkeys(keys)
        }
        if not digests:
            return set()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO esp_webhook_receipt (backend_id, key, received_at)
                SELECT %s, unnest(%s::varchar[]), now() AT TIME ZONE 'UTC'
                ON CONFLICT (backend_id, key) DO NOTHING
                RETURNING key
                """,
                backend.id,
                list(digests),
            )
        )
        return {digests[row[0]] for row in self.env.cr.fetchall()}

    @api.model
    def _esp_unseen(self, backend, headers, updates):
        """``updates`` less the events already received; a replayed call raises.

        Only where the ESP signs its calls (Klaviyo): the signature names one
        delivery, the event ids its events. A delivery seen before is refused
        (an ``EspError`` with code ``webhook_replay``); an event seen before in
        another delivery (an ESP retry) changes nothing twice.
        """
        if backend.provider != "klaviyo":
            return updates
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        signature = headers.get(klaviyo_const.WEBHOOK_SIGNATURE_HEADER, "").lower()
        if not self._esp_claim(backend, [f"delivery:{signature.strip()}"]):
            raise EspError(
                "This webhook call was already received; the replay is refused.",
                category="authentication",
                code="webhook_replay",
            )
        keys = {u.provider_ref: f"event:{u.provider_ref}" for u in updates}
        keys.pop("", None)
        fresh = self._esp_claim(backend, keys.values())
        return [
            u for u in updates if not u.provider_ref or keys[u.provider_ref] in fresh
        ]

    @api.model
    def _cron_vacuum(self, days=KEEP_DAYS):
        """Forget receipts older than ``days``."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM esp_webhook_receipt WHERE received_at < %s",
                fields.Datetime.subtract(fields.Datetime.now(), days=days),
            )
        )
        return self.env.cr.rowcount
