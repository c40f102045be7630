"""Klaviyo catalog items, variants and back-in-stock subscriptions."""

from ..core import Response
from . import filters
from .common import (
    ApiError,
    catalog_value,
    iso,
)


class CatalogMixin:
    """Klaviyo catalog items, variants and back-in-stock subscriptions."""

    # == catalog ================================================================
    def _catalog_resource(self, request, kind, item):
        attributes = {
            k: v
            for k, v in item.items()
            if k not in ("id", "item_id", "created", "updated")
        }
        attributes.update(created=iso(item["created"]), updated=iso(item["updated"]))
        resource = {
            "type": kind,
            "id": item["id"],
            "attributes": attributes,
            "links": {"self": self._url(request, f"/api/{kind}s/{item['id']}")},
        }
        if kind == "catalog-variant":
            resource["relationships"] = {
                "item": {"data": {"type": "catalog-item", "id": item["item_id"]}}
            }
        return resource

    def _create_catalog(self, request, kind, store):
        data = request.json["data"]
        attributes = dict(data["attributes"])
        catalog_id = "$custom:::{}:::{}".format(
            attributes.get("catalog_type") or "$default", attributes["external_id"]
        )
        with self.lock:
            state = self._state(request)
            if catalog_id in state[store]:
                return self.error(
                    409,
                    f"A {kind} with id {catalog_id} already exists.",
                    "/data/attributes/external_id",
                    code="conflict",
                )
            item = {
                "id": catalog_id,
                **attributes,
                "integration_type": "$custom",
                "catalog_type": attributes.get("catalog_type") or "$default",
                "published": attributes.get("published", True),
                "created": self.now(),
                "updated": self.now(),
            }
            if kind == "catalog-variant":
                item_id = data["relationships"]["item"]["data"]["id"]
                if item_id not in state["catalog_items"]:
                    return self.error(
                        404,
                        f"Catalog item {item_id} not found.",
                        "/data/relationships/item/data/id",
                    )
                item["item_id"] = item_id
            state[store][catalog_id] = item
            return Response(201, {"data": self._catalog_resource(request, kind, item)})

    def _get_catalog(self, request, kind, store):
        with self.lock:
            item = self._state(request)[store].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"{kind} {request.path_params['id']} not found.")
            return {"data": self._catalog_resource(request, kind, item)}

    def _list_catalog(self, request, kind, store, allowed):
        conditions = filters.parse(request.arg("filter"), allowed)
        with self.lock:
            items = self._state(request)[store].values()
            found = self._matching(conditions, items, catalog_value)
            return self._page(
                request, found, lambda i: self._catalog_resource(request, kind, i)
            )

    def _update_catalog(self, request, kind, store):
        data = request.json["data"]
        if data.get("id") != request.path_params["id"]:
            return self.error(
                409, "The id in the body does not match the URL.", "/data/id"
            )
        with self.lock:
            state = self._state(request)
            item = state[store].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"{kind} {request.path_params['id']} not found.")
            before = item.get("inventory_quantity")
            item.update(data.get("attributes") or {})
            item["updated"] = self.now()
            after = item.get("inventory_quantity")
            if kind == "catalog-variant" and (before or 0) <= 0 and (after or 0) > 0:
                for sub in state["bis"]:
                    if sub["variant_id"] == item["id"] and not sub["notified"]:
                        sub["notified"] = self.now()
            return {"data": self._catalog_resource(request, kind, item)}

    def _delete_catalog(self, request, store):
        with self.lock:
            state = self._state(request)
            if state[store].pop(request.path_params["id"], None) is None:
                return self.error(404, f"{request.path_params['id']} not found.")
        return Response(204, None)

    def get_catalog_items(self, request):
        """``GET /api/catalog-items``."""
        allowed = {
            "ids": ("any",),
            "title": ("contains",),
            "published": ("equals",),
            "category.id": ("equals",),
        }
        return self._list_catalog(request, "catalog-item", "catalog_items", allowed)

    def create_catalog_item(self, request):
        """``POST /api/catalog-items``."""
        return self._create_catalog(request, "catalog-item", "catalog_items")

    def get_catalog_item(self, request):
        """``GET /api/catalog-items/{id}``."""
        return self._get_catalog(request, "catalog-item", "catalog_items")

    def update_catalog_item(self, request):
        """``PATCH /api/catalog-items/{id}``."""
        return self._update_catalog(request, "catalog-item", "catalog_items")

    def delete_catalog_item(self, request):
        """``DELETE /api/catalog-items/{id}``."""
        return self._delete_catalog(request, "catalog_items")

    def get_catalog_variants(self, request):
        """``GET /api/catalog-variants``."""
        allowed = {
            "ids": ("any",),
            "item.id": ("equals",),
            "sku": ("equals",),
            "title": ("contains",),
            "published": ("equals",),
        }
        return self._list_catalog(
            request, "catalog-variant", "catalog_variants", allowed
        )

    def create_catalog_variant(self, request):
        """``POST /api/catalog-variants``."""
        return self._create_catalog(request, "catalog-variant", "catalog_variants")

    def get_catalog_variant(self, request):
        """``GET /api/catalog-variants/{id}``."""
        return self._get_catalog(request, "catalog-variant", "catalog_variants")

    def update_catalog_variant(self, request):
        """``PATCH /api/catalog-variants/{id}``."""
        return self._update_catalog(request, "catalog-variant", "catalog_variants")

    def delete_catalog_variant(self, request):
        """``DELETE /api/catalog-variants/{id}``."""
        return self._delete_catalog(request, "catalog_variants")

    def create_bis(self, request):
        """``POST /api/back-in-stock-subscriptions``: subscribe a profile to a variant's
        back-in-stock alert (202).
        """
        data = request.json["data"]
        variant_id = data["relationships"]["variant"]["data"]["id"]
        with self.lock:
            state = self._state(request)
            if variant_id not in state["catalog_variants"]:
                return self.error(
                    404,
                    f"Catalog variant {variant_id} not found.",
                    "/data/relationships/variant/data/id",
                )
            profile_data = (data["attributes"].get("profile") or {}).get("data")
            if not profile_data:
                return self.error(
                    400, "A profile is required.", "/data/attributes/profile"
                )
            try:
                profile, _created = self._upsert(
                    state, profile_data, "/data/attributes/profile/data"
                )
            except ApiError as exc:
                return self._api_error(exc)
            state["bis"].append(
                {
                    "profile_id": profile["id"],
                    "variant_id": variant_id,
                    "channels": data["attributes"]["channels"],
                    "created": self.now(),
                    "notified": None,
                }
            )
        return Response(202, None)
