"""Pydantic models of the Klaviyo request bodies we send (revision 2026-07-15).

Only the attributes esp_sync fills are modelled; every model forbids unknown
fields so a typo fails here rather than at Klaviyo. ``dump()`` gives the JSON
body: ``None`` values are left out, aliases (``events-bulk-create``) applied.
The ``build_*`` functions at the end turn the engine's plain values
(``providers.events``) into these models.
"""

import datetime
import decimal
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..events import EventKind
from . import const


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


# --- builders: plain values -> models ---------------------------------------------
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def e164(phone):
    """``phone`` in E.164 (``+32475123456``) or ``""`` when it is not one.

    Klaviyo rejects the whole profile for an invalid phone number, so only
    numbers that already carry their country code are sent.
    """
    raw = _PHONE_NOISE.sub("", phone or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    return raw if _E164.match(raw) else ""


def utc(moment):
    """``moment`` as an aware UTC datetime (naive values are taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def jsonable(value):
    """``value`` with dates, decimals, tuples and sets made JSON-serialisable."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return utc(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _text(value):
    return value if value not in ("", None) else None


def build_location(address):
    """A :class:`Location` from an ``events.Address``, or None when empty."""
    if address is None:
        return None
    location = Location(
        address1=_text(address.street),
        address2=_text(address.street2),
        city=_text(address.city),
        region=_text(address.region),
        zip=_text(address.zip),
        country=_text(address.country or address.country_code),
    )
    return location if location.dump() else None


def build_profile_attributes(profile):
    """Profile attributes from an ``events.Profile`` (email already normalised)."""
    properties = jsonable(
        {k: v for k, v in (profile.properties or {}).items() if v is not None}
    )
    properties[const.TAGS_PROPERTY] = [str(tag) for tag in profile.tags or ()]
    if profile.customer_type:
        properties[const.CUSTOMER_TYPE_PROPERTY] = profile.customer_type
    phone = e164(profile.phone)
    if profile.phone and not phone:
        properties[const.RAW_PHONE_PROPERTY] = profile.phone
    return ProfileAttributes(
        email=profile.email,
        external_id=_text(profile.external_id),
        first_name=_text(profile.first_name),
        last_name=_text(profile.last_name),
        phone_number=phone or None,
        organization=_text(profile.organization),
        location=build_location(profile.address),
        properties=properties,
    )


def build_profile_resource(profile):
    """The profile resource; ``None`` properties are unset at Klaviyo."""
    cleared = sorted(str(k) for k, v in (profile.properties or {}).items() if v is None)
    meta = (
        ProfileMeta(patch_properties=PatchProperties(unset=cleared))
        if cleared
        else None
    )
    return ProfileResource(attributes=build_profile_attributes(profile), meta=meta)


def build_event_profile(order):
    """The profile an order event is about: identified by email + external id."""
    return ProfileRelationship(
        data=ProfileResource(
            attributes=ProfileAttributes(
                email=order.email, external_id=_text(order.external_id)
            )
        )
    )


def build_line(line):
    """One order line as Klaviyo's ``Items`` entry."""
    return {
        "ProductID": line.product_id,
        "SKU": line.sku,
        "ProductName": line.name,
        "Quantity": line.quantity,
        "ItemPrice": line.unit_price,
        "RowTotal": line.total,
        "ProductURL": line.product_url,
        "ImageURL": line.image_url,
        "Categories": list(line.categories),
    }


def _metric(name):
    return MetricRelationship(
        data=MetricResource(attributes=MetricAttributes(name=name))
    )


def build_events(event):
    """The Klaviyo events (without profile) for one ``events.OrderEvent``.

    The first is the lifecycle metric; a placed order adds one "Ordered
    Product" per line, each with its own deterministic ``unique_id``.
    """
    order = event.order
    occurred_at = utc(event.occurred_at)
    backfill = True if event.backfill else None
    properties = {
        "OrderId": order.order_id,
        "OrderName": order.name,
        "ItemNames": [line.name for line in event.lines],
        "Items": [build_line(line) for line in event.lines],
    }
    if event.reference:
        properties["Reference"] = event.reference
    properties.update(jsonable(dict(event.properties or {})))
    result = [
        EventCore(
            properties=properties,
            time=occurred_at,
            value=event.value,
            value_currency=_text(order.currency),
            unique_id=event.unique_id,
            backfill=backfill,
            metric=_metric(const.METRIC_BY_KIND[event.kind]),
        )
    ]
    if event.kind == EventKind.PLACED:
        for line in event.lines:
            line_properties = {"OrderId": order.order_id, "OrderName": order.name}
            line_properties.update(build_line(line))
            result.append(
                EventCore(
                    properties=line_properties,
                    time=occurred_at,
                    value=line.total,
                    value_currency=_text(order.currency),
                    unique_id=f"{event.unique_id}:{line.line_id}",
                    backfill=backfill,
                    metric=_metric(const.METRIC_ORDERED_PRODUCT),
                )
            )
    return result


def count_events(event):
    """How many Klaviyo events :func:`build_events` makes for ``event``."""
    if event.kind == EventKind.PLACED:
        return 1 + len(event.lines)
    return 1


def build_event_request(event_core, order):
    """POST /api/events body for one built event."""
    attributes = EventAttributes(profile=build_event_profile(order), **dict(event_core))
    return EventCreateRequest(data=EventResource(attributes=attributes))


def build_event_bulk_request(order_events):
    """POST /api/event-bulk-create-jobs body, events grouped per profile."""
    groups = {}
    for event in order_events:
        key = (event.order.email, event.order.external_id)
        if key not in groups:
            groups[key] = (build_event_profile(event.order), [])
        groups[key][1].extend(
            BulkEventResource(attributes=core) for core in build_events(event)
        )
    entries = [
        ProfileEvents(
            attributes=ProfileEventsAttributes(
                profile=profile, events=BulkEvents(data=events)
            )
        )
        for profile, events in groups.values()
    ]
    return EventBulkJobRequest(
        data=EventBulkJob(
            attributes=EventBulkJobAttributes(
                events_bulk_create=EventBulkCreateList(data=entries)
            )
        )
    )


def build_subscribe_request(
    emails_consented, source=None, list_id=None, historical=False
):
    """Subscribe body from ``[(email, consented_at)]``."""
    profiles = [
        SubscribeProfile(
            attributes=SubscribeProfileAttributes(
                email=email,
                subscriptions=SubscribeChannels(
                    email=SubscribedEmail(
                        marketing=SubscribedConsent(consented_at=consented_at)
                    )
                ),
            )
        )
        for email, consented_at in emails_consented
    ]
    relationships = None
    if list_id:
        relationships = SubscriptionJobRelationships(
            list=ListRelationship(data=ListRef(id=list_id))
        )
    return SubscribeJobRequest(
        data=SubscribeJob(
            attributes=SubscribeJobAttributes(
                custom_source=_text(source),
                historical_import=True if historical else None,
                profiles=SubscribeProfiles(data=profiles),
            ),
            relationships=relationships,
        )
    )


def build_unsubscribe_request(emails):
    """Global email-marketing unsubscribe body (no list relationship)."""
    profiles = [
        UnsubscribeProfile(attributes=UnsubscribeProfileAttributes(email=email))
        for email in emails
    ]
    return UnsubscribeJobRequest(
        data=UnsubscribeJob(
            attributes=UnsubscribeJobAttributes(
                profiles=UnsubscribeProfiles(data=profiles)
            )
        )
    )


def build_suppress_request(emails):
    profiles = [
        SuppressProfile(attributes=SuppressProfileAttributes(email=email))
        for email in emails
    ]
    return SuppressJobRequest(
        data=SuppressJob(
            attributes=SuppressJobAttributes(profiles=SuppressProfiles(data=profiles))
        )
    )


def build_profile_import_job(resources, list_ids=()):
    relationships = None
    if list_ids:
        relationships = ProfileImportJobRelationships(
            lists=ListsRelationship(data=[ListRef(id=i) for i in list_ids])
        )
    return ProfileImportJobRequest(
        data=ProfileImportJob(
            attributes=ProfileImportJobAttributes(
                profiles=ProfileList(data=list(resources))
            ),
            relationships=relationships,
        )
    )


def catalog_id(external_id):
    """Klaviyo's id of a catalogue item or variant we created."""
    return f"{const.CATALOG_ID_PREFIX}{external_id}"


def build_item_create(item):
    return CatalogItemCreateRequest(
        data=CatalogItemCreate(
            attributes=CatalogItemCreateAttributes(
                external_id=item.external_id,
                title=item.title,
                description=item.description or item.title,
                url=item.url,
                price=item.price,
                image_full_url=_text(item.image_url),
            )
        )
    )


def build_item_update(item):
    return CatalogItemUpdateRequest(
        data=CatalogItemUpdate(
            id=catalog_id(item.external_id),
            attributes=CatalogItemUpdateAttributes(
                title=item.title,
                description=item.description or item.title,
                url=item.url,
                price=item.price,
                image_full_url=_text(item.image_url),
                published=True,
            ),
        )
    )


def build_variant_create(item, variant, inventory_policy):
    return CatalogVariantCreateRequest(
        data=CatalogVariantCreate(
            attributes=CatalogVariantCreateAttributes(
                external_id=variant.external_id,
                title=variant.title,
                description=item.description or variant.title,
                sku=variant.sku or variant.external_id,
                inventory_policy=inventory_policy,
                inventory_quantity=variant.inventory_quantity,
                price=variant.price,
                url=variant.url or item.url,
                image_full_url=_text(variant.image_url or item.image_url),
            ),
            relationships=CatalogVariantRelationships(
                item=CatalogItemRelationship(
                    data=CatalogItemRef(id=catalog_id(item.external_id))
                )
            ),
        )
    )


def build_variant_update(item, variant, inventory_policy):
    return CatalogVariantUpdateRequest(
        data=CatalogVariantUpdate(
            id=catalog_id(variant.external_id),
            attributes=CatalogVariantUpdateAttributes(
                title=variant.title,
                description=item.description or variant.title,
                sku=variant.sku or variant.external_id,
                inventory_policy=inventory_policy,
                inventory_quantity=variant.inventory_quantity,
                price=variant.price,
                url=variant.url or item.url,
                image_full_url=_text(variant.image_url or item.image_url),
                published=True,
            ),
        )
    )


def build_inventory_update(level):
    return CatalogVariantUpdateRequest(
        data=CatalogVariantUpdate(
            id=catalog_id(level.variant_external_id),
            attributes=CatalogVariantUpdateAttributes(
                inventory_quantity=level.quantity
            ),
        )
    )
