# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import re
from datetime import timedelta
from urllib.parse import unquote

import responses

from odoo import fields
from odoo.exceptions import ValidationError

from .. import const
from .common import EspSyncCase
from .klaviyo_common import KLAVIYO_URL, KlaviyoHttpMixin

ITEM_ID = "$custom:::$default:::{}"
ONE_MINUTE = timedelta(minutes=1)
# 1x1 PNG pictures, red and blue.
PNG_HEAD = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nG"
PIXEL = PNG_HEAD + "P4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
OTHER_PIXEL = PNG_HEAD + "NgYPj/HwADAgH/5ncLrgAAAABJRU5ErkJggg=="


class TestKlaviyoCatalog(KlaviyoHttpMixin, EspSyncCase):
    """Catalogue items and inventory deltas: capture, payloads, skips."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.write({"sync_catalog": True, "catalog_mode": "realtime"})
        cls.stock = (
            cls.env["stock.warehouse"]
            .search([("company_id", "=", cls.company.id)], limit=1)
            .lot_stock_id
        )
        colour = cls.env["product.attribute"].create(
            {
                "name": "Colour",
                "value_ids": [(0, 0, {"name": "Red"}), (0, 0, {"name": "Blue"})],
            }
        )
        quiet = cls.env["product.template"].with_context(esp_sync_no_capture=True)
        cls.mug = quiet.create(
            {
                "name": "Camp Mug",
                "type": "consu",
                "is_storable": True,
                "list_price": 12.0,
                "description_sale": "Enamel mug",
                "taxes_id": [(5, 0, 0)],
                "attribute_line_ids": [
                    (
                        0,
                        0,
                        {
                            "attribute_id": colour.id,
                            "value_ids": [(6, 0, colour.value_ids.ids)],
                        },
                    )
                ],
            }
        )
        red, blue = cls.mug.product_variant_ids.sorted("id")
        red.default_code, blue.default_code = "MUG-RED", "MUG-BLUE"
        cls.mug = cls.mug.with_context(esp_sync_no_capture=False)
        cls.red, cls.blue = cls.mug.product_variant_ids.sorted("id")

    def _ledger(self, event_type, record=None, state=None):
        domain = [("backend_id", "=", self.backend.id), ("event_type", "=", event_type)]
        if record is not None:
            domain += [("res_model", "=", record._name), ("res_id", "in", record.ids)]
        if state:
            domain.append(("state", "=", state))
        return self.events.search(domain, order="id")

    def _klaviyo_catalog_ok(self, rsps):
        self._klaviyo_ok(rsps)
        rsps.add(responses.POST, f"{KLAVIYO_URL}/api/catalog-items", status=201)
        rsps.add(responses.POST, f"{KLAVIYO_URL}/api/catalog-variants", status=201)
        rsps.add(
            responses.PATCH,
            re.compile(re.escape(KLAVIYO_URL) + "/api/catalog-.*"),
            json={},
        )

    @staticmethod
    def _patches(rsps):
        return [
            json.loads(call.request.body)
            for call in rsps.calls
            if call.request.method == "PATCH"
        ]

    def _set_stock(self, product, quantity):
        """An inventory adjustment: quants are applied through done moves."""
        self.env["stock.quant"].with_context(inventory_mode=True).create(
            {
                "product_id": product.id,
                "location_id": self.stock.id,
                "inventory_quantity": quantity,
            }
        ).action_apply_inventory()

    def _deliver_all(self):
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()

    # ------------------------------------------------------------ settings
    def test_product_domain_is_validated(self):
        self.assertEqual(self.backend.product_domain, "[('sale_ok', '=', True)]")
        with self.assertRaises(ValidationError):
            self.backend.product_domain = "[('no_such_field', '=', 1)]"

    # ------------------------------------------------------------- capture
    def test_essential_field_change_records_one_catalog_event(self):
        self.mug.write({"list_price": 14.0})
        self.mug.write({"name": "Camp Mug XL"})
        events = self._ledger("catalog")
        self.assertEqual(len(events), 2, "capture only inserts; delivery merges")
        self.assertEqual(len(set(events.mapped("group_ref"))), 1)
        event = events[0]
        self.assertEqual(
            (event.res_model, event.res_id), ("product.template", self.mug.id)
        )
        self.assertEqual(event.group_ref, f"product.template,{self.mug.id}")
        self.assertEqual(event.priority, const.PRIORITY_BULK)
        self._deliver_all()
        self.mug.write({"description_purchase": "from the supplier"})
        self.assertFalse(
            self._ledger("catalog", state="pending"), "non-essential fields are quiet"
        )
        self.red.write({"default_code": "MUG-R"})
        self.assertEqual(len(self._ledger("catalog", self.mug, "pending")), 1)

    def test_scheduled_catalogue_waits_for_the_batch_cron(self):
        self.backend.catalog_mode = "scheduled"
        self.mug.write({"list_price": 14.0})
        self._set_stock(self.red, 3)
        self.assertEqual(
            set(self._ledger("catalog").mapped("mode"))
            | set(self._ledger("inventory").mapped("mode")),
            {"scheduled"},
        )
        self.trap.assert_jobs_count(0)
        self.env["esp.backend"]._cron_deliver_scheduled()
        self.trap.assert_jobs_count(1)  # one job for the template's group
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            self.assertEqual(len(self._bodies(rsps, "/api/catalog-items")), 1)
        self.assertEqual(self._ledger("catalog").state, "sent")

    def test_new_variant_refreshes_the_item(self):
        self.mug.write({"list_price": 12.0})
        self._deliver_all()
        line = self.mug.attribute_line_ids
        green = self.env["product.attribute.value"].create(
            {"name": "Green", "attribute_id": line.attribute_id.id}
        )
        line.write({"value_ids": [(4, green.id)]})
        self.assertEqual(len(self.mug.product_variant_ids), 3)
        self.assertTrue(self._ledger("catalog", self.mug, "pending"))
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            variants = self._bodies(rsps, "/api/catalog-variants")
        titles = {v["data"]["attributes"]["title"] for v in variants}
        self.assertIn("Camp Mug (Green)", titles)

    def test_products_outside_the_domain_are_not_captured(self):
        self.mug.with_context(esp_sync_no_capture=True).sale_ok = False
        self.mug.write({"list_price": 15.0})
        self._set_stock(self.red, 5)
        self.assertFalse(self._ledger("catalog") | self._ledger("inventory"))
        self.backend.sync_catalog = False
        self.mug.with_context(esp_sync_no_capture=True).sale_ok = True
        self.mug.write({"list_price": 16.0})
        self.assertFalse(self._ledger("catalog"), "catalogue stream switched off")

    def test_shared_products_reach_each_company_backend(self):
        other_company = self.env["res.company"].create({"name": "Other Shop"})
        other = self.env["esp.backend"].create(
            {
                "name": "Klaviyo other",
                "provider": "klaviyo",
                "api_key": "pk_test_other",
                "company_id": other_company.id,
                "sync_catalog": True,
                "catalog_mode": "scheduled",
            }
        )
        self.mug.write({"list_price": 13.0})
        self.assertEqual(len(self.events.search([("res_id", "=", self.mug.id)])), 2)
        self.mug.with_context(esp_sync_no_capture=True).company_id = self.company
        self.events.search([("res_id", "=", self.mug.id)]).unlink()
        self.mug.write({"list_price": 11.0})
        ledger = self.events.search([("res_id", "=", self.mug.id)])
        self.assertEqual(ledger.backend_id, self.backend, "not the other company's")
        self.assertNotIn(other, ledger.backend_id)

    def test_stock_change_records_inventory_for_moved_variants_only(self):
        self._set_stock(self.red, 7)
        event = self._ledger("inventory")
        self.assertEqual(event.res_model, "product.product")
        self.assertEqual(event.res_id, self.red.id, "the blue mug did not move")
        self.assertEqual(event.group_ref, f"product.template,{self.mug.id}")
        self._set_stock(self.red, 4)
        rows = self._ledger("inventory")
        self.assertEqual(set(rows.mapped("res_id")), {self.red.id})
        self.assertFalse(self._ledger("catalog"), "a stock change is no full feed")

    def test_internal_transfer_records_nothing(self):
        self._set_stock(self.red, 5)
        self._deliver_all()
        shelf = self.env["stock.location"].create(
            {"name": "Shelf", "location_id": self.stock.id, "usage": "internal"}
        )
        move = self.env["stock.move"].create(
            {
                "name": "to shelf",
                "product_id": self.red.id,
                "product_uom_qty": 2,
                "product_uom": self.red.uom_id.id,
                "location_id": self.stock.id,
                "location_dest_id": shelf.id,
            }
        )
        move._action_confirm()
        move._action_assign()
        move.quantity = 2
        move.picked = True
        move._action_done()
        self.assertEqual(move.state, "done")
        self.assertFalse(self._ledger("inventory", state="pending"))

    # ------------------------------------------------------------ delivery
    def test_catalog_item_payload_with_variants_and_stock(self):
        self._set_stock(self.red, 6)
        self._ledger("inventory").occurred_at = fields.Datetime.now() - ONE_MINUTE
        self.mug.write({"list_price": 12.5})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (item,) = self._bodies(rsps, "/api/catalog-items")
            variants = self._bodies(rsps, "/api/catalog-variants")
            patched = [c for c in rsps.calls if c.request.method == "PATCH"]
        attributes = item["data"]["attributes"]
        self.assertEqual(attributes["external_id"], str(self.mug.id))
        self.assertEqual(attributes["title"], "Camp Mug")
        self.assertEqual(attributes["description"], "Enamel mug")
        self.assertEqual(attributes["price"], 12.5)
        base = self.mug.get_base_url()
        self.assertTrue(attributes["url"].startswith(base))
        by_sku = {v["data"]["attributes"]["sku"]: v["data"] for v in variants}
        self.assertEqual(set(by_sku), {"MUG-RED", "MUG-BLUE"})
        red = by_sku["MUG-RED"]
        self.assertEqual(red["attributes"]["external_id"], str(self.red.id))
        self.assertEqual(red["attributes"]["inventory_quantity"], 6.0)
        self.assertEqual(by_sku["MUG-BLUE"]["attributes"]["inventory_quantity"], 0.0)
        self.assertEqual(red["attributes"]["title"], "Camp Mug (Red)")
        self.assertEqual(
            red["relationships"]["item"]["data"]["id"], ITEM_ID.format(self.mug.id)
        )
        self.assertFalse(patched, "the first stock change travelled with the item")
        self.assertEqual(
            self._ledger("inventory").mapped("state"), ["skipped"], "item carried it"
        )
        self.assertEqual(self._ledger("catalog").mapped("state"), ["sent"])

    def test_stock_delta_patches_the_moved_variant_only(self):
        self.mug.write({"list_price": 12.0})
        self._deliver_all()
        self._set_stock(self.red, 9)
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            calls = [(c.request.method, c.request.url) for c in rsps.calls]
            (body,) = self._patches(rsps)
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(calls[0][0], "PATCH")
        self.assertIn(f"{self.red.id}", calls[0][1])
        self.assertEqual(
            body["data"],
            {
                "type": "catalog-variant",
                "id": ITEM_ID.format(self.red.id),
                "attributes": {"inventory_quantity": 9.0},
            },
        )
        # A sale shipped from stock lowers it again.
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": self.red.id, "product_uom_qty": 2})
                ],
            }
        )
        order.action_confirm()
        self._deliver(order.picking_ids)
        # Reserved, then shipped: two rows, merged into one update below.
        self.assertEqual(len(self._ledger("inventory", self.red, "pending")), 2)
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (body,) = self._patches(rsps)
        self.assertEqual(body["data"]["attributes"]["inventory_quantity"], 7.0)

    def test_stock_change_delivered_after_the_item_is_not_sent_again(self):
        self.mug.write({"list_price": 12.0})
        self._deliver_all()
        self._set_stock(self.red, 2)
        self.mug.write({"name": "Camp Mug II"})
        self._ledger("catalog", state="pending").occurred_at = (
            fields.Datetime.now() - 2 * ONE_MINUTE
        )
        self._ledger("inventory").occurred_at = fields.Datetime.now() - ONE_MINUTE
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            self.assertFalse(self._patches(rsps), "the item carried the new stock")
            variants = self._bodies(rsps, "/api/catalog-variants")
        quantities = {
            v["data"]["attributes"]["sku"]: v["data"]["attributes"][
                "inventory_quantity"
            ]
            for v in variants
        }
        self.assertEqual(quantities["MUG-RED"], 2.0)
        self.assertEqual(self._ledger("inventory").state, "skipped")

    def test_unchanged_item_is_not_sent_again(self):
        self.mug.write({"list_price": 12.0})
        self._deliver_all()
        self.mug.write({"list_price": 12.0, "name": "Camp Mug"})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            self.assertFalse(rsps.calls)
        self.assertEqual(self._ledger("catalog").mapped("state"), ["sent", "skipped"])

    def test_archived_product_is_removed_once_synced(self):
        self._set_stock(self.red, 3)
        self._deliver_all()
        self.mug.write({"active": False})
        item_id = ITEM_ID.format(self.mug.id)
        variant_ids = [ITEM_ID.format(v.id) for v in (self.red | self.blue)]
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            rsps.add(
                responses.GET,
                f"{KLAVIYO_URL}/api/catalog-variants",
                json={
                    "data": [{"type": "catalog-variant", "id": i} for i in variant_ids],
                    "links": {"next": None},
                },
            )
            rsps.add(
                responses.DELETE,
                re.compile(re.escape(KLAVIYO_URL) + "/api/catalog-.*"),
                status=204,
            )
            self._run_jobs()
            calls = [
                (c.request.method, c.request.url.split("?")[0]) for c in rsps.calls
            ]
            self.assertIn(
                f'equals(item.id,"{item_id}")',
                unquote(rsps.calls[0].request.url),
            )
        self.assertEqual(
            calls,
            [("GET", f"{KLAVIYO_URL}/api/catalog-variants")]
            + [
                ("DELETE", f"{KLAVIYO_URL}/api/catalog-variants/{i}")
                for i in variant_ids
            ]
            + [("DELETE", f"{KLAVIYO_URL}/api/catalog-items/{item_id}")],
        )
        binding = self.env["esp.sync.binding"].search(
            [("res_model", "=", "product.template"), ("res_id", "=", self.mug.id)]
        )
        self.assertTrue(binding)
        self.assertFalse(any(binding.mapped("last_sync_at")), "the ESP lost it")
        # Un-archived: sent whole again (created, not patched).
        self.mug.write({"active": True})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (item,) = self._bodies(rsps, "/api/catalog-items")
        self.assertEqual(item["data"]["attributes"]["external_id"], str(self.mug.id))
        never = self.env["product.template"].create(
            {"name": "Never sold", "list_price": 1.0, "active": False}
        )
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            self.assertFalse(self._bodies(rsps, "/api/catalog-items"))
        self.assertEqual(
            set(self._ledger("catalog", never).mapped("state")), {"skipped"}
        )

    def test_images_are_versioned_urls_in_items_and_order_lines(self):
        self.mug.write({"image_1920": PIXEL})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (item,) = self._bodies(rsps, "/api/catalog-items")
        first = item["data"]["attributes"]["image_full_url"]
        prefix = f"{self.mug.get_base_url()}/web/image/product.template/{self.mug.id}"
        self.assertTrue(first.startswith(f"{prefix}/image_1024?unique="), first)
        self.mug.write({"image_1920": OTHER_PIXEL})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (item,) = self._bodies(rsps, "/api/catalog-items")
        second = item["data"]["attributes"]["image_full_url"]
        self.assertNotEqual(first, second, "a new picture is a new URL")
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": self.red.id, "product_uom_qty": 1})
                ],
            }
        )
        order.action_confirm()
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            placed = next(
                b
                for b in self._bodies(rsps, "/api/events")
                if self._metric(b) == "Placed Order"
            )
        (line,) = placed["data"]["attributes"]["properties"]["Items"]
        self.assertEqual(line["ImageURL"], second)
        self.assertEqual(line["ProductID"], str(self.mug.id), "the catalogue item id")

    def test_untracked_products_are_always_available(self):
        self.product.product_tmpl_id.write({"list_price": 99.0})
        with self._mock() as rsps:
            self._klaviyo_catalog_ok(rsps)
            self._run_jobs()
            (variant,) = self._bodies(rsps, "/api/catalog-variants")
        self.assertEqual(
            variant["data"]["attributes"]["inventory_quantity"],
            const.UNTRACKED_INVENTORY_QUANTITY,
        )
