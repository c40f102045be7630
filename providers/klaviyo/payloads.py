"""Pydantic models of the Klaviyo request bodies we send (``const.API_REVISION``).

Only the attributes esp_sync fills are modelled; every model forbids unknown
fields so a typo fails here rather than at Klaviyo. ``dump()`` gives the JSON
body: ``None`` values are left out, aliases (``events-bulk-create``) applied.
``builders.py`` fills them from the engine's plain values.
"""

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self):
        """The JSON-ready body, without ``None`` values."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


# --- profiles -----------------------------------------------------------------
class Location(_Model):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    region: str | None = None
    zip: str | None = None
    country: str | None = None


class ProfileAttributes(_Model):
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    anonymous_id: str | None = None  # events only: an order without a person
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    location: Location | None = None
    properties: dict | None = None


class PatchProperties(_Model):
    unset: list[str] | None = None


class ProfileMeta(_Model):
    patch_properties: PatchProperties | None = None


class ProfileResource(_Model):
    type: Literal["profile"] = "profile"
    id: str | None = None
    attributes: ProfileAttributes
    meta: ProfileMeta | None = None


class ProfileImportRequest(_Model):
    """POST /api/profile-import (create or update, keyed by email)."""

    data: ProfileResource


# --- relationships ------------------------------------------------------------
class ListRef(_Model):
    type: Literal["list"] = "list"
    id: str


class ListRelationship(_Model):
    data: ListRef


class ListsRelationship(_Model):
    data: list[ListRef]


class SubscriptionJobRelationships(_Model):
    list: ListRelationship


# --- consent ------------------------------------------------------------------
class SubscribedConsent(_Model):
    consent: Literal["SUBSCRIBED"] = "SUBSCRIBED"
    consented_at: datetime.datetime | None = None


class SubscribedEmail(_Model):
    marketing: SubscribedConsent


class SubscribeChannels(_Model):
    email: SubscribedEmail


class SubscribeProfileAttributes(_Model):
    email: str
    subscriptions: SubscribeChannels


class SubscribeProfile(_Model):
    type: Literal["profile"] = "profile"
    attributes: SubscribeProfileAttributes


class SubscribeProfiles(_Model):
    data: list[SubscribeProfile]


class SubscribeJobAttributes(_Model):
    custom_source: str | None = None
    historical_import: bool | None = None
    profiles: SubscribeProfiles


class SubscribeJob(_Model):
    type: Literal["profile-subscription-bulk-create-job"] = (
        "profile-subscription-bulk-create-job"
    )
    attributes: SubscribeJobAttributes
    relationships: SubscriptionJobRelationships | None = None


class SubscribeJobRequest(_Model):
    """POST /api/profile-subscription-bulk-create-jobs."""

    data: SubscribeJob


class UnsubscribedConsent(_Model):
    consent: Literal["UNSUBSCRIBED"] = "UNSUBSCRIBED"


class UnsubscribedEmail(_Model):
    marketing: UnsubscribedConsent = Field(default_factory=UnsubscribedConsent)


class UnsubscribeChannels(_Model):
    email: UnsubscribedEmail = Field(default_factory=UnsubscribedEmail)


class UnsubscribeProfileAttributes(_Model):
    email: str
    subscriptions: UnsubscribeChannels = Field(default_factory=UnsubscribeChannels)


class UnsubscribeProfile(_Model):
    type: Literal["profile"] = "profile"
    attributes: UnsubscribeProfileAttributes


class UnsubscribeProfiles(_Model):
    data: list[UnsubscribeProfile]


class UnsubscribeJobAttributes(_Model):
    profiles: UnsubscribeProfiles


class UnsubscribeJob(_Model):
    type: Literal["profile-subscription-bulk-delete-job"] = (
        "profile-subscription-bulk-delete-job"
    )
    attributes: UnsubscribeJobAttributes


class UnsubscribeJobRequest(_Model):
    """POST /api/profile-subscription-bulk-delete-jobs (no list: global)."""

    data: UnsubscribeJob


class SuppressProfileAttributes(_Model):
    email: str


class SuppressProfile(_Model):
    type: Literal["profile"] = "profile"
    attributes: SuppressProfileAttributes


class SuppressProfiles(_Model):
    data: list[SuppressProfile]


class SuppressJobAttributes(_Model):
    profiles: SuppressProfiles


class SuppressJob(_Model):
    type: Literal["profile-suppression-bulk-create-job"] = (
        "profile-suppression-bulk-create-job"
    )
    attributes: SuppressJobAttributes


class SuppressJobRequest(_Model):
    """POST /api/profile-suppression-bulk-create-jobs."""

    data: SuppressJob


class UnsuppressJob(_Model):
    type: Literal["profile-suppression-bulk-delete-job"] = (
        "profile-suppression-bulk-delete-job"
    )
    attributes: SuppressJobAttributes


class UnsuppressJobRequest(_Model):
    """POST /api/profile-suppression-bulk-delete-jobs (lifts USER_SUPPRESSED)."""

    data: UnsuppressJob


# --- events -------------------------------------------------------------------
class MetricAttributes(_Model):
    name: str


class MetricResource(_Model):
    type: Literal["metric"] = "metric"
    attributes: MetricAttributes


class MetricRelationship(_Model):
    data: MetricResource


class ProfileRelationship(_Model):
    data: ProfileResource


class EventCore(_Model):
    """The attributes an event has in both the single and the bulk call."""

    properties: dict
    time: datetime.datetime | None = None
    value: float | None = None
    value_currency: str | None = None
    unique_id: str | None = None
    backfill: bool | None = None
    metric: MetricRelationship


class EventAttributes(EventCore):
    profile: ProfileRelationship


class EventResource(_Model):
    type: Literal["event"] = "event"
    attributes: EventAttributes


class EventCreateRequest(_Model):
    """POST /api/events."""

    data: EventResource


class BulkEventResource(_Model):
    type: Literal["event"] = "event"
    attributes: EventCore


class BulkEvents(_Model):
    data: list[BulkEventResource]


class ProfileEventsAttributes(_Model):
    profile: ProfileRelationship
    events: BulkEvents


class ProfileEvents(_Model):
    """One profile with its events, inside an event bulk create job."""

    type: Literal["event-bulk-create"] = "event-bulk-create"
    attributes: ProfileEventsAttributes


class EventBulkCreateList(_Model):
    data: list[ProfileEvents]


class EventBulkJobAttributes(_Model):
    events_bulk_create: EventBulkCreateList = Field(alias="events-bulk-create")


class EventBulkJob(_Model):
    type: Literal["event-bulk-create-job"] = "event-bulk-create-job"
    attributes: EventBulkJobAttributes


class EventBulkJobRequest(_Model):
    """POST /api/event-bulk-create-jobs (events grouped per profile)."""

    data: EventBulkJob


# --- profile bulk import --------------------------------------------------------
class ProfileImportJobAttributes(_Model):
    profiles: "ProfileList"


class ProfileList(_Model):
    data: list[ProfileResource]


class ProfileImportJobRelationships(_Model):
    lists: ListsRelationship


class ProfileImportJob(_Model):
    type: Literal["profile-bulk-import-job"] = "profile-bulk-import-job"
    attributes: ProfileImportJobAttributes
    relationships: ProfileImportJobRelationships | None = None


class ProfileImportJobRequest(_Model):
    """POST /api/profile-bulk-import-jobs."""

    data: ProfileImportJob


ProfileImportJobAttributes.model_rebuild()


# --- catalogue ----------------------------------------------------------------
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
