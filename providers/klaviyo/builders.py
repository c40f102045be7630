"""Klaviyo request bodies from the engine's plain values (``providers.events``).

Each ``build_*`` function returns a model of ``payloads.py``; :func:`encode`
gives the bytes Klaviyo receives (the size limits are measured on them).
"""

import datetime
import decimal
import json
import re

from ..events import EventKind
from . import const
from . import payloads as p


def encode(body):
    """The JSON bytes of a request body, as sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


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
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


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
    location = p.Location(
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
    return p.ProfileAttributes(
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
        p.ProfileMeta(patch_properties=p.PatchProperties(unset=cleared))
        if cleared
        else None
    )
    return p.ProfileResource(attributes=build_profile_attributes(profile), meta=meta)


def build_event_profile(order):
    """The profile an order event is about: identified by email + external id
    (an anonymous order: by its anonymous id only, nothing personal)."""
    if order.anonymous_id and not order.email:
        return p.ProfileRelationship(
            data=p.ProfileResource(
                attributes=p.ProfileAttributes(anonymous_id=order.anonymous_id)
            )
        )
    return p.ProfileRelationship(
        data=p.ProfileResource(
            attributes=p.ProfileAttributes(
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
    return p.MetricRelationship(
        data=p.MetricResource(attributes=p.MetricAttributes(name=name))
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
        p.EventCore(
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
                p.EventCore(
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
    attributes = p.EventAttributes(
        profile=build_event_profile(order), **dict(event_core)
    )
    return p.EventCreateRequest(data=p.EventResource(attributes=attributes))


def build_event_bulk_request(order_events):
    """POST /api/event-bulk-create-jobs body, events grouped per profile."""
    groups = {}
    for event in order_events:
        key = (event.order.email, event.order.external_id)
        if key not in groups:
            groups[key] = (build_event_profile(event.order), [])
        groups[key][1].extend(
            p.BulkEventResource(attributes=core) for core in build_events(event)
        )
    entries = [
        p.ProfileEvents(
            attributes=p.ProfileEventsAttributes(
                profile=profile, events=p.BulkEvents(data=events)
            )
        )
        for profile, events in groups.values()
    ]
    return p.EventBulkJobRequest(
        data=p.EventBulkJob(
            attributes=p.EventBulkJobAttributes(
                events_bulk_create=p.EventBulkCreateList(data=entries)
            )
        )
    )


def build_subscribe_request(
    emails_consented, source=None, list_id=None, historical=False
):
    """Subscribe body from ``[(email, consented_at)]``."""
    profiles = [
        p.SubscribeProfile(
            attributes=p.SubscribeProfileAttributes(
                email=email,
                subscriptions=p.SubscribeChannels(
                    email=p.SubscribedEmail(
                        marketing=p.SubscribedConsent(consented_at=consented_at)
                    )
                ),
            )
        )
        for email, consented_at in emails_consented
    ]
    relationships = None
    if list_id:
        relationships = p.SubscriptionJobRelationships(
            list=p.ListRelationship(data=p.ListRef(id=list_id))
        )
    return p.SubscribeJobRequest(
        data=p.SubscribeJob(
            attributes=p.SubscribeJobAttributes(
                custom_source=_text(source),
                historical_import=True if historical else None,
                profiles=p.SubscribeProfiles(data=profiles),
            ),
            relationships=relationships,
        )
    )


def _email_job(request_model, emails):
    """A bulk job body whose profiles are only ``emails``."""
    profiles = [{"attributes": {"email": email}} for email in emails]
    body = {"data": {"attributes": {"profiles": {"data": profiles}}}}
    return request_model.model_validate(body)


def build_unsubscribe_request(emails):
    """Global email-marketing unsubscribe body (no list relationship)."""
    return _email_job(p.UnsubscribeJobRequest, emails)


def build_suppress_request(emails):
    """Suppression body: no marketing email at all to these addresses."""
    return _email_job(p.SuppressJobRequest, emails)


def build_unsuppress_request(emails):
    """Lift the suppressions esp_sync set (the Odoo blacklist entry is gone)."""
    return _email_job(p.UnsuppressJobRequest, emails)


def build_profile_import_job(resources, list_ids=()):
    relationships = None
    if list_ids:
        relationships = p.ProfileImportJobRelationships(
            lists=p.ListsRelationship(data=[p.ListRef(id=i) for i in list_ids])
        )
    return p.ProfileImportJobRequest(
        data=p.ProfileImportJob(
            attributes=p.ProfileImportJobAttributes(
                profiles=p.ProfileList(data=list(resources))
            ),
            relationships=relationships,
        )
    )


def catalog_id(external_id):
    """Klaviyo's id of a catalogue item or variant we created."""
    return f"{const.CATALOG_ID_PREFIX}{external_id}"


def _item_fields(item):
    """The attributes a catalogue item's create and update both carry."""
    return {
        "title": item.title,
        "description": item.description or item.title,
        "url": item.url,
        "price": item.price,
        "image_full_url": _text(item.image_url),
    }


def _variant_fields(item, variant, inventory_policy):
    """The attributes a variant's create and update both carry."""
    return {
        "title": variant.title,
        "description": item.description or variant.title,
        "sku": variant.sku or variant.external_id,
        "inventory_policy": inventory_policy,
        "inventory_quantity": variant.inventory_quantity,
        "price": variant.price,
        "url": variant.url or item.url,
        "image_full_url": _text(variant.image_url or item.image_url),
    }


def build_item_create(item):
    attributes = p.CatalogItemCreateAttributes(
        external_id=item.external_id, **_item_fields(item)
    )
    return p.CatalogItemCreateRequest(data=p.CatalogItemCreate(attributes=attributes))


def build_item_update(item):
    attributes = p.CatalogItemUpdateAttributes(**_item_fields(item), published=True)
    return p.CatalogItemUpdateRequest(
        data=p.CatalogItemUpdate(id=catalog_id(item.external_id), attributes=attributes)
    )


def build_variant_create(item, variant, inventory_policy):
    attributes = p.CatalogVariantCreateAttributes(
        external_id=variant.external_id,
        **_variant_fields(item, variant, inventory_policy),
    )
    item_ref = p.CatalogItemRef(id=catalog_id(item.external_id))
    return p.CatalogVariantCreateRequest(
        data=p.CatalogVariantCreate(
            attributes=attributes,
            relationships=p.CatalogVariantRelationships(
                item=p.CatalogItemRelationship(data=item_ref)
            ),
        )
    )


def build_variant_update(item, variant, inventory_policy):
    attributes = p.CatalogVariantUpdateAttributes(
        **_variant_fields(item, variant, inventory_policy), published=True
    )
    return p.CatalogVariantUpdateRequest(
        data=p.CatalogVariantUpdate(
            id=catalog_id(variant.external_id), attributes=attributes
        )
    )


def build_inventory_update(level):
    return p.CatalogVariantUpdateRequest(
        data=p.CatalogVariantUpdate(
            id=catalog_id(level.variant_external_id),
            attributes=p.CatalogVariantUpdateAttributes(
                inventory_quantity=level.quantity
            ),
        )
    )
