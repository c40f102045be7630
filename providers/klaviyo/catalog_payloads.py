"""Pydantic models of the Klaviyo catalogue bodies: items and their variants.

Built by ``builders.py`` (``build_item_*``, ``build_variant_*``); the same
conventions as ``payloads.py`` (unknown fields forbidden, ``dump()``).
"""

from typing import Literal

from .payloads import _Model


class CatalogItemCreateAttributes(_Model):
    external_id: str
    integration_type: Literal["$custom"] = "$custom"
    catalog_type: str = "$default"
    title: str
    description: str
    url: str
    price: float | None = None
    image_full_url: str | None = None
    published: bool = True


class CatalogItemCreate(_Model):
    type: Literal["catalog-item"] = "catalog-item"
    attributes: CatalogItemCreateAttributes


class CatalogItemCreateRequest(_Model):
    """POST /api/catalog-items."""

    data: CatalogItemCreate


class CatalogItemUpdateAttributes(_Model):
    title: str | None = None
    description: str | None = None
    url: str | None = None
    price: float | None = None
    image_full_url: str | None = None
    published: bool | None = None


class CatalogItemUpdate(_Model):
    type: Literal["catalog-item"] = "catalog-item"
    id: str
    attributes: CatalogItemUpdateAttributes


class CatalogItemUpdateRequest(_Model):
    """PATCH /api/catalog-items/{id}."""

    data: CatalogItemUpdate


class CatalogItemRef(_Model):
    type: Literal["catalog-item"] = "catalog-item"
    id: str


class CatalogItemRelationship(_Model):
    data: CatalogItemRef


class CatalogVariantRelationships(_Model):
    item: CatalogItemRelationship


class CatalogVariantCreateAttributes(_Model):
    external_id: str
    integration_type: Literal["$custom"] = "$custom"
    catalog_type: str = "$default"
    title: str
    description: str
    sku: str
    inventory_policy: Literal[0, 1, 2] | None = None
    inventory_quantity: float
    price: float
    url: str
    image_full_url: str | None = None
    published: bool = True


class CatalogVariantCreate(_Model):
    type: Literal["catalog-variant"] = "catalog-variant"
    attributes: CatalogVariantCreateAttributes
    relationships: CatalogVariantRelationships


class CatalogVariantCreateRequest(_Model):
    """POST /api/catalog-variants."""

    data: CatalogVariantCreate


class CatalogVariantUpdateAttributes(_Model):
    title: str | None = None
    description: str | None = None
    sku: str | None = None
    inventory_policy: Literal[0, 1, 2] | None = None
    inventory_quantity: float | None = None
    price: float | None = None
    url: str | None = None
    image_full_url: str | None = None
    published: bool | None = None


class CatalogVariantUpdate(_Model):
    type: Literal["catalog-variant"] = "catalog-variant"
    id: str
    attributes: CatalogVariantUpdateAttributes


class CatalogVariantUpdateRequest(_Model):
    """PATCH /api/catalog-variants/{id}."""

    data: CatalogVariantUpdate
