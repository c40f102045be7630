# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A product's life in each ESP's catalogue, Odoo records -> jobs -> the
sandbox (which validates every request against the vendor's spec): variants
grouped under their template, price and image changes, stock deltas, archive
(removed), un-archive (back), delete (removed)."""

from odoo.tests import tagged

from odoo.addons.esp_sync.providers.dotdigital import adapter as dotdigital_adapter
from odoo.addons.esp_sync.providers.mailchimp import adapter as mailchimp_adapter

from .common import EspSyncCase, use_shared_specs

KLAVIYO_KEY = "pk_sandbox_catalog_life"
MAILCHIMP_KEY = "sandboxcatalog-us1"
DOTDIGITAL_USER = "apiuser-sandbox-catalog@apiconnector.com"
PNG_HEAD = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nG"
PIXEL = PNG_HEAD + "P4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
OTHER_PIXEL = PNG_HEAD + "NgYPj/HwADAgH/5ncLrgAAAABJRU5ErkJggg=="


class CatalogLifecycleMixin:
    """The scenario, run against one ESP; ``_item`` reads what it holds as
    ``{"title", "price", "image", "variants": {odoo variant id: (parent
    id, quantity)}}`` or None when the ESP has no such item."""

    provider = None
    allow_inherited_tests_method = True  # Odoo's loader: run the mixin's tests

    @classmethod
    def setUpClass(cls):
        use_shared_specs()
        super().setUpClass()
        from odoo.addons.esp_sync.sandbox import Sandbox

        cls.sb = Sandbox(port=0, validate=True, providers=[cls.provider]).start()
        cls.addClassCleanup(cls.sb.stop)
        cls.backend.active = False  # the base class' Klaviyo backend
        cls.esp = cls.env["esp.backend"].create(
            {
                "name": f"{cls.provider} catalogue",
                "provider": cls.provider,
                "company_id": cls.company.id,
                "base_url": cls.sb.base_url(cls.provider),
                "sync_catalog": True,
                "catalog_mode": "realtime",
                **cls._credentials(),
            }
        )
        cls.stock = (
            cls.env["stock.warehouse"]
            .search([("company_id", "=", cls.company.id)], limit=1)
            .lot_stock_id
        )
        cls.colour = cls.env["product.attribute"].create(
            {
                "name": "Lantern colour",
                "value_ids": [(0, 0, {"name": "Red"}), (0, 0, {"name": "Blue"})],
            }
        )

    def setUp(self):
        super().setUp()
        self.sb.reset()
        self.sb.configure(validate=True, job_seconds=0)
        mailchimp_adapter._merge_tags_cache.clear()
        dotdigital_adapter._fields_cache.clear()

    # ------------------------------------------------------------- helpers
    def _lantern(self):
        return self.env["product.template"].create(
            {
                "name": "Lantern",
                "type": "consu",
                "is_storable": True,
                "list_price": 20.0,
                "taxes_id": [(5, 0, 0)],
                "attribute_line_ids": [
                    (
                        0,
                        0,
                        {
                            "attribute_id": self.colour.id,
                            "value_ids": [(6, 0, self.colour.value_ids.ids)],
                        },
                    )
                ],
            }
        )

    def _set_stock(self, product, quantity):
        self.env["stock.quant"].with_context(inventory_mode=True).create(
            {
                "product_id": product.id,
                "location_id": self.stock.id,
                "inventory_quantity": quantity,
            }
        ).action_apply_inventory()

    def _assert_valid(self):
        """Every request the sandbox saw passed its spec check (a 400
        answers a violation) and nothing failed in Odoo (404: already gone,
        409: Klaviyo's "exists, update it" are answers the adapters expect)."""
        refused = [
            (r["method"], r["path"], r["status"], r.get("response"))
            for r in self.sb.requests(self.provider)
            if r["status"] >= 400 and r["status"] not in (404, 409)
        ]
        self.assertEqual(refused, [])
        failed = self.events.search(
            [("backend_id", "=", self.esp.id), ("state", "=", "failed")]
        )
        self.assertFalse(failed.mapped("note"))

    # ----------------------------------------------------------------- test
    def test_product_life_in_the_catalogue(self):
        lantern = self._lantern()
        red, blue = lantern.product_variant_ids.sorted("id")
        self._set_stock(red, 3)
        self._run_jobs()
        item = self._item(lantern)
        self.assertEqual((item["title"], item["price"]), ("Lantern", 20.0))
        self.assertEqual(
            item["variants"],
            {red.id: (lantern.id, 3.0), blue.id: (lantern.id, 0.0)},
            "both variants under their template, with their stock",
        )

        # Available-to-promise stock deltas reach the item.
        self._set_stock(blue, 6)
        self._run_jobs()
        self.assertEqual(self._item(lantern)["variants"][blue.id], (lantern.id, 6.0))

        # A list price change and a picture change update the item.
        lantern.write({"list_price": 24.5})
        self._run_jobs()
        self.assertEqual(self._item(lantern)["price"], 24.5)
        lantern.write({"image_1920": PIXEL})
        self._run_jobs()
        first = self._item(lantern)["image"]
        self.assertIn(f"/web/image/product.template/{lantern.id}/", first)
        lantern.write({"image_1920": OTHER_PIXEL})
        self._run_jobs()
        second = self._item(lantern)["image"]
        self.assertTrue(second and second != first, "a new picture, a new URL")

        # Archived: gone from the catalogue; its stock moves send nothing.
        lantern.action_archive()
        self._run_jobs()
        self.assertIsNone(self._item(lantern))
        mark = self._mark()
        self._set_stock(red.with_context(active_test=False), 1)
        self._run_jobs()
        self.assertEqual(self._since(mark), [], "nothing to update at the ESP")

        # Back on sale: the whole item again, variants under their template.
        lantern.action_unarchive()
        lantern.product_variant_ids.action_unarchive()
        self._run_jobs()
        item = self._item(lantern)
        self.assertEqual(item["price"], 24.5)
        self.assertEqual(
            item["variants"], {red.id: (lantern.id, 1.0), blue.id: (lantern.id, 6.0)}
        )

        self._assert_valid()

    def test_deleted_product_is_removed(self):
        lantern = self._lantern()
        self._run_jobs()
        self.assertTrue(self._item(lantern))
        lantern_id = lantern.id
        lantern.unlink()
        self._run_jobs()
        self.assertIsNone(self._item_by_id(lantern_id))
        rows = self.events.search(
            [
                ("backend_id", "=", self.esp.id),
                ("res_model", "=", "product.template"),
                ("res_id", "=", lantern_id),
            ],
            order="id",
        )
        self.assertEqual(rows.mapped("state")[-1], "sent")
        # A product deleted before it ever reached the ESP sends nothing.
        never = self._lantern().with_context(esp_sync_no_capture=False)
        mark = self._mark()
        never.unlink()
        self._run_jobs()
        self.assertFalse(
            [r for r in self._since(mark) if r[0] == "DELETE"], "never synced"
        )
        self._assert_valid()

    def test_deleted_variant_leaves_its_product(self):
        lantern = self._lantern()
        red, blue = lantern.product_variant_ids.sorted("id")
        self._run_jobs()
        self.assertEqual(set(self._item(lantern)["variants"]), {red.id, blue.id})
        blue.unlink()
        self._run_jobs()
        item = self._item(lantern)
        self.assertEqual(item["variants"], {red.id: (lantern.id, 0.0)})
        self.assertEqual(item["title"], "Lantern")
        self._assert_valid()

    def test_archived_variant_stays_under_its_template_out_of_stock(self):
        lantern = self._lantern()
        red, blue = lantern.product_variant_ids.sorted("id")
        self._set_stock(red, 2)
        self._run_jobs()
        red.action_archive()
        self._run_jobs()
        item = self._item(lantern)
        self.assertEqual(item["variants"][red.id], (lantern.id, 0.0))
        self.assertEqual(item["variants"][blue.id], (lantern.id, 0.0))
        # Every variant archived: the template is no longer sold anywhere.
        blue.action_archive()
        self._run_jobs()
        self.assertIsNone(self._item(lantern))
        self._assert_valid()

    # -------------------------------------------------------------- reading
    def _item(self, template):
        return self._item_by_id(template.id)

    def _mark(self):
        log = self.sb.requests(self.provider)
        return log[-1]["id"] if log else 0

    def _since(self, mark):
        return [(r["method"], r["path"]) for r in self.sb.requests(self.provider, mark)]


@tagged("post_install", "-at_install")
class TestKlaviyoCatalogLifecycle(CatalogLifecycleMixin, EspSyncCase):
    provider = "klaviyo"

    @classmethod
    def _credentials(cls):
        return {"api_key": KLAVIYO_KEY}

    def _item_by_id(self, template_id):
        state = self.sb.state("klaviyo").get(KLAVIYO_KEY) or {}
        item_id = f"$custom:::$default:::{template_id}"
        item = (state.get("catalog_items") or {}).get(item_id)
        if item is None:
            return None
        variants = {
            int(v["external_id"]): (
                int(v["item_id"].rsplit(":", 1)[-1]),
                v["inventory_quantity"],
            )
            for v in (state.get("catalog_variants") or {}).values()
            if v["item_id"] == item_id
        }
        return {
            "title": item["title"],
            "price": item["price"],
            "image": item.get("image_full_url"),
            "variants": variants,
        }


@tagged("post_install", "-at_install")
class TestMailchimpCatalogLifecycle(CatalogLifecycleMixin, EspSyncCase):
    provider = "mailchimp"

    @classmethod
    def _credentials(cls):
        return {
            "api_key": MAILCHIMP_KEY,
            "mailchimp_list_id": "aud00001",
            "mailchimp_store_id": "store-life",
        }

    def setUp(self):
        super().setUp()
        self.esp._esp_adapter().ensure_store("Shop", "EUR")

    def _item_by_id(self, template_id):
        state = self.sb.state("mailchimp", MAILCHIMP_KEY)
        store = (state.get("stores") or {}).get("store-life") or {}
        product = (store.get("products") or {}).get(str(template_id))
        if product is None:
            return None
        return {
            "title": product["title"],
            "price": product["variants"][0]["price"],
            "image": product.get("image_url"),
            "variants": {
                int(v["id"]): (int(product["id"]), float(v["inventory_quantity"]))
                for v in product["variants"]
            },
        }


@tagged("post_install", "-at_install")
class TestDotdigitalCatalogLifecycle(CatalogLifecycleMixin, EspSyncCase):
    provider = "dotdigital"

    @classmethod
    def _credentials(cls):
        return {
            "api_user": DOTDIGITAL_USER,
            "api_secret": "sandbox-password",
            "dotdigital_address_book_id": "1",
        }

    def _item_by_id(self, template_id):
        state = self.sb.state("dotdigital", DOTDIGITAL_USER)
        record = (state.get("records") or {}).get(f"Catalog/0/{template_id}")
        if record is None:
            return None
        data = record["json"]
        return {
            "title": data["name"],
            "price": data["price"],
            "image": data.get("imageUrl"),
            "variants": {
                int(v["id"]): (int(data["id"]), v["stock"]) for v in data["variants"]
            },
        }
