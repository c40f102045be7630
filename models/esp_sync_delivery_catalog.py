# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Delivery, step 4c: a product removed from the ESP's catalogue.

An archived product (or one leaving the backend's product domain) is built
as an ``ev.CatalogRemoval`` by ``esp.sync.values`` and goes through the
ordinary unit; a deleted one is captured before it is gone and delivered
here, from the ledger row alone. Either way the binding then forgets the
item: the ESP no longer has it, and selling it again sends it whole. A
variant deleted from a product still sold is removed from it the same way.
"""

from odoo import _, api, models

from ..providers import events as ev
from .esp_sync_values import payload_hash

TEMPLATE = "product.template"
VARIANT = "product.product"


class EspSyncDeliveryCatalog(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    @api.model
    def _esp_deliver_unit(self, backend, adapter, unit):
        row = unit[0]
        gone = (
            row.event_type == "catalog"
            and row.res_model in (TEMPLATE, VARIANT)
            and not self.env[row.res_model].sudo().browse(row.res_id).exists()
        )
        if gone and row.res_model == TEMPLATE:
            return self._esp_deliver_deleted_product(backend, adapter, unit)
        if gone:
            return self._esp_deliver_deleted_variant(backend, adapter, unit)
        return super()._esp_deliver_unit(backend, adapter, unit)

    @api.model
    def _esp_deliver_deleted_variant(self, backend, adapter, unit):
        """Remove a deleted variant from its product at the ESP (the product,
        still sold, is sent again without it by the row queued after)."""
        row = unit[0]
        template_id = int(row.group_ref.split(":")[0].split(",")[1])
        if not self._esp_product_bindings(backend, template_id).filtered(
            "last_sync_at"
        ):
            self._esp_mark_done(unit, _("The variant was deleted before delivery."))
            return None
        removal = ev.CatalogVariantRemoval(
            external_id=str(row.res_id), product_external_id=str(template_id)
        )
        result = adapter.remove_catalog_variant(removal)
        self._esp_mark_removed(backend, adapter, unit, result, removal)
        return result

    @api.model
    def _esp_deliver_deleted_product(self, backend, adapter, unit):
        """Remove a deleted template's item from the ESP that has it."""
        row = unit[0]
        bindings = self._esp_product_bindings(backend, row.res_id)
        if not bindings.filtered("last_sync_at"):
            self._esp_mark_done(unit, _("The product was deleted before delivery."))
            return None
        removal = ev.CatalogRemoval(
            external_id=str(row.res_id), title=row.record_name or ""
        )
        result = adapter.remove_catalog_item(removal)
        self._esp_mark_removed(backend, adapter, unit, result, removal)
        self.env["esp.sync.exception"].sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", TEMPLATE),
                ("res_id", "=", row.res_id),
                ("state", "=", "open"),
            ]
        ).write({"state": "resolved"})
        bindings.unlink()
        return result

    @api.model
    def _esp_mark_removed(self, backend, adapter, unit, result, removal):
        """The ledger rows of a removal sent (or skipped by the adapter)."""
        self._esp_mark_sent(backend, adapter, unit, result, payload_hash(removal))

    @api.model
    def _esp_after_success(self, backend, row, record, values):
        result = super()._esp_after_success(backend, row, record, values)
        if isinstance(values, ev.CatalogRemoval):
            # The ESP no longer has the item: nothing is synced, and the
            # next offer of it (un-archived) is sent whole.
            self._esp_product_bindings(backend, record.id).write(
                {"last_sync_at": False, "last_payload_hash": False}
            )
        return result

    @api.model
    def _esp_product_bindings(self, backend, template_id):
        return (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", TEMPLATE),
                    ("res_id", "=", template_id),
                ]
            )
        )
