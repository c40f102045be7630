"""Klaviyo catalogue: items and variants created, updated or removed, inventory
pushed."""

from urllib.parse import parse_qs, quote, urlsplit

from ..errors import ErrorCategory, EspError
from . import builders as b
from . import const


class CatalogMixin:
    """Catalogue items and variants (needs ``_request``, ``_start``, ``_result``)."""

    def _inventory_policy(self):
        return self.settings.extra.get(
            "klaviyo_inventory_policy", const.DEFAULT_INVENTORY_POLICY
        )

    def _create_or_update(self, create_path, create_body, update_path, update_body):
        """POST; on Klaviyo's 409 duplicate answer PATCH. Return whether created."""
        try:
            self._request("POST", create_path, json=create_body.dump())
            return True
        except EspError as exc:
            if exc.status != 409:
                raise
        self._request("PATCH", update_path, json=update_body.dump())
        return False

    def upsert_catalog_item(self, item):
        self._start()
        if not item.url:
            raise EspError(
                f"Product {item.title!r} has no URL; Klaviyo catalog items need one.",
                category=ErrorCategory.DATA,
                field="url",
            )
        item_id = b.catalog_id(item.external_id)
        created = self._create_or_update(
            const.PATH_CATALOG_ITEMS,
            b.build_item_create(item),
            const.PATH_CATALOG_ITEM.format(id=quote(item_id, safe="$:")),
            b.build_item_update(item),
        )
        policy = self._inventory_policy()
        for variant in item.variants:
            variant_id = b.catalog_id(variant.external_id)
            self._create_or_update(
                const.PATH_CATALOG_VARIANTS,
                b.build_variant_create(item, variant, policy),
                const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:")),
                b.build_variant_update(item, variant, policy),
            )
        return self._result(external_id=item_id, detail={"created": created})

    def update_inventory(self, levels):
        self._start()
        missing = []
        for level in levels:
            variant_id = b.catalog_id(level.variant_external_id)
            path = const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:"))
            try:
                self._request(
                    "PATCH", path, json=b.build_inventory_update(level).dump()
                )
            except EspError as exc:
                if exc.status != 404:
                    raise
                missing.append(level.variant_external_id)
        return self._result(detail={"missing": missing})

    def _item_variant_ids(self, item_id):
        """Klaviyo's ids of the variants of ``item_id`` (every page)."""
        params = {
            "filter": f'equals(item.id,"{item_id}")',
            "fields[catalog-variant]": "external_id",
            "page[size]": 100,
        }
        ids = []
        while params:
            doc = self._request("GET", const.PATH_CATALOG_VARIANTS, params=params)
            ids.extend(resource["id"] for resource in doc.get("data") or [])
            link = (doc.get("links") or {}).get("next")
            query = parse_qs(urlsplit(link).query) if link else {}
            params = {key: values[0] for key, values in query.items()}
        return ids

    def _delete_catalog(self, path):
        """DELETE; a resource Klaviyo does not have (404) is already gone."""
        try:
            self._request("DELETE", path)
            return True
        except EspError as exc:
            if exc.status != 404:
                raise
        return False

    def remove_catalog_item(self, removal):
        """Delete the item's variants (listed at Klaviyo, so variants deleted
        in Odoo go too), then the item."""
        self._start()
        item_id = b.catalog_id(removal.external_id)
        for variant_id in self._item_variant_ids(item_id):
            self._delete_catalog(
                const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:"))
            )
        deleted = self._delete_catalog(
            const.PATH_CATALOG_ITEM.format(id=quote(item_id, safe="$:"))
        )
        return self._result(external_id=item_id, detail={"deleted": deleted})

    def remove_catalog_variant(self, removal):
        """DELETE the variant (a product's other variants stay)."""
        self._start()
        variant_id = b.catalog_id(removal.external_id)
        deleted = self._delete_catalog(
            const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:"))
        )
        return self._result(external_id=variant_id, detail={"deleted": deleted})
