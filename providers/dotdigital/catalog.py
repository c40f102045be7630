"""Dotdigital catalogue: one record per product in an account-scoped
insight collection of type ``catalog``."""

import urllib.parse

from ..base import DeliveryResult, EspError
from . import const, payloads
from .orders import check_collection_name


class CatalogMixin:
    """Product records (needs ``_request``, ``_start`` and ``_result``)."""

    def _catalog_collection(self):
        name = self.settings.extra.get("catalog_collection", const.CATALOG_COLLECTION)
        return check_collection_name(name)

    def upsert_catalog_item(self, item):
        """Upsert the product's record, variants included, keyed by its id."""
        self._start()
        collection = self._catalog_collection()
        record = payloads.CatalogRecord(
            id=str(item.external_id),
            name=item.title,
            description=item.description or None,
            sku=item.sku or None,
            price=round(float(item.price or 0.0), 2),
            currency=item.currency,
            url=item.url or None,
            imageUrl=item.image_url or None,
            categories=", ".join(item.categories) or None,
            variants=[
                payloads.CatalogVariant(
                    id=str(v.external_id),
                    sku=v.sku or None,
                    name=v.title,
                    price=round(float(v.price or 0.0), 2),
                    stock=float(v.inventory_quantity or 0.0),
                    url=v.url or None,
                    imageUrl=v.image_url or None,
                )
                for v in item.variants
            ],
        ).dump()
        path = const.INSIGHT_ACCOUNT_RECORD.format(
            collection=collection, record_id=urllib.parse.quote(record["id"], safe="")
        )
        try:
            self._request("PUT", path, json=record)
        except EspError as error:
            if error.code != const.CODE_COLLECTION_NOT_FOUND:
                raise
            self._request(
                "POST",
                const.INSIGHT_COLLECTION.format(collection=collection),
                params={"collectionScope": "account", "collectionType": "catalog"},
            )
            self._request("PUT", path, json=record)
        return self._result(external_id=record["id"])

    def remove_catalog_item(self, removal):
        """DELETE the product's record; a record or collection Dotdigital
        does not have is already gone."""
        self._start()
        path = const.INSIGHT_ACCOUNT_RECORD.format(
            collection=self._catalog_collection(),
            record_id=urllib.parse.quote(str(removal.external_id), safe=""),
        )
        deleted = self._delete_if_present(path)
        return self._result(
            external_id=str(removal.external_id), detail={"deleted": deleted}
        )

    def update_inventory(self, levels):
        """Set the stock of the variants that moved inside their product's
        record (read, changed, written back: Dotdigital has no partial
        update). A record Dotdigital does not have is left to the next
        catalogue upsert."""
        self._start()
        collection = self._catalog_collection()
        by_product = {}
        for level in levels:
            by_product.setdefault(str(level.product_external_id), {})[
                str(level.variant_external_id)
            ] = round(float(max(level.quantity or 0.0, 0.0)), 2)
        missing = []
        for product_id, stock in by_product.items():
            path = const.INSIGHT_ACCOUNT_RECORD.format(
                collection=collection,
                record_id=urllib.parse.quote(product_id, safe=""),
            )
            try:
                record = (self._request("GET", path) or {}).get("json") or {}
            except EspError as error:
                if error.status != 404:
                    raise
                record = {}
            variants = record.get("variants") or []
            known = {str(v.get("id")) for v in variants}
            missing.extend(v for v in stock if v not in known)
            if not known & set(stock):
                continue
            for variant in variants:
                if str(variant.get("id")) in stock:
                    variant["stock"] = stock[str(variant["id"])]
            self._request("PUT", path, json=record)
        return self._result(detail={"missing": missing})

    def remove_catalog_variant(self, removal):
        """Nothing to send: variants live inside the product's record, which
        the product's next upsert (queued with the removal) rewrites."""
        return DeliveryResult(
            skipped_reason="The product's record is rewritten without it.",
            requests=0,
        )
