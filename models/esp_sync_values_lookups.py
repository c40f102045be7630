# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Per-chunk look-ups of the profile and order builders: a few queries per
chunk, not several per partner or order line (the backfill's hot path)."""

from typing import NamedTuple

from odoo import api, models
from odoo.tools import SQL


class ProfileLookups(NamedTuple):
    """What ``_esp_profile`` would otherwise query once per partner."""

    canonical: dict  # normalised email -> id of its oldest partner
    blacklisted: frozenset  # normalised emails on the active blacklist
    last_consent: dict  # partner id -> last consent sent to the backend

    def is_blacklisted(self, partner):
        return bool(partner.email_normalized) and (
            partner.email_normalized in self.blacklisted
        )


class OrderLookups(NamedTuple):
    """What ``_esp_order`` would otherwise query once per order or line."""

    people: ProfileLookups
    images: dict  # (model, id, image field) -> checksum ("" if none) of each image
    released: dict  # order id -> when it passed the release gate (gated backends)


class EspSyncValues(models.AbstractModel):
    _inherit = "esp.sync.values"

    @api.model
    def _esp_profile_lookups(self, backend, partners):
        """Canonical partners, blacklist and last consent of a whole chunk."""
        emails = sorted({p.email_normalized for p in partners if p.email_normalized})
        if not emails:
            return ProfileLookups({}, frozenset(), {})
        self.env["res.partner"].flush_model(["email_normalized", "company_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT email_normalized, min(id) FROM res_partner
                 WHERE email_normalized = ANY(%s)
                   AND (company_id IS NULL OR company_id = %s)
                 GROUP BY email_normalized
                """,
                emails,
                backend.company_id.id,
            )
        )
        canonical = dict(self.env.cr.fetchall())
        blacklisted = frozenset(
            self.env["mail.blacklist"]
            .sudo()
            .search([("email", "in", emails), ("active", "=", True)])
            .mapped("email")
        )
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search_read(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("stream", "=", "consent"),
                ],
                ["res_id", "last_consent_sent"],
            )
        )
        last_consent = {b["res_id"]: b["last_consent_sent"] for b in bindings}
        return ProfileLookups(canonical, blacklisted, last_consent)

    @api.model
    def _esp_order_lookups(self, backend, orders, partners):
        """The people, product images and release times of a chunk of orders."""
        lines = orders.order_line.filtered(
            lambda line: not line.display_type and line.product_id
        )
        variants = lines.product_id
        images = self._esp_image_checksums(variants, "image_variant_1920")
        images.update(self._esp_image_checksums(variants.product_tmpl_id, "image_1920"))
        released = {}
        if backend.release_gate != "none":
            for event in (
                self.env["esp.sync.event"]
                .sudo()
                .search(
                    [
                        ("res_id", "in", orders.ids),
                        ("res_model", "=", "sale.order"),
                        ("backend_id", "=", backend.id),
                        ("event_type", "=", "order_released"),
                        ("state", "in", ("pending", "sent")),
                    ]
                )  # newest first, as _esp_released_at
            ):
                released.setdefault(event.res_id, event.occurred_at)
        return OrderLookups(
            self._esp_profile_lookups(backend, partners), images, released
        )

    @api.model
    def _esp_image_checksums(self, records, field):
        """``{(model, id, field): checksum}`` of the records that have an image
        in ``field`` (its attachment, without reading the image)."""
        if not records:
            return {}
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .search_read(
                [
                    ("res_model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("res_field", "=", field),
                ],
                ["res_id", "checksum"],
            )
        )
        return {
            (records._name, row["res_id"], field): row["checksum"] or ""
            for row in attachments
        }
