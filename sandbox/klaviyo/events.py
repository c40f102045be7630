"""Klaviyo events and metrics: single and bulk create, de-duplication, reads."""

import uuid

from ..core import Response
from . import filters
from .common import (
    EVENT_FILTERS,
    MAX_BULK_EVENTS,
    ApiError,
    event_value,
    iso,
    long_string,
    sort_items,
)


class EventsMixin:
    """Event and metric endpoints of :class:`~sandbox.klaviyo.KlaviyoApp`."""

    def _metric(self, state, name):
        metric = state["metrics"].get(name)
        if metric is None:
            metric = {"id": self._new_id(6)[2:], "name": name, "created": self.now()}
            metric["id"] = "M" + metric["id"][:5]
            state["metrics"][name] = metric
        return metric

    def _record_event(self, state, profile, attributes, name):
        """Store one event unless its unique_id was seen for profile+metric."""
        metric = self._metric(state, name)
        unique_id = attributes.get("unique_id")
        if unique_id:
            key = (profile["id"], metric["id"], unique_id)
            if key in state["event_keys"]:
                return None
            state["event_keys"].add(key)
        when = attributes.get("time")
        moment = filters.to_epoch(when) if when else self.now()
        event = {
            "id": self._new_id(),
            "profile_id": profile["id"],
            "metric_id": metric["id"],
            "metric": name,
            "timestamp": moment,
            "properties": dict(attributes.get("properties") or {}),
            "value": attributes.get("value"),
            "value_currency": attributes.get("value_currency"),
            "unique_id": unique_id or str(uuid.uuid4()),
            "received": self.now(),
        }
        state["events"].append(event)
        profile["last_event_date"] = max(profile["last_event_date"] or 0, moment)
        return event

    def _event_resource(self, request, event):
        attributes = {
            "timestamp": int(event["timestamp"]),
            "event_properties": event["properties"],
            "datetime": iso(event["timestamp"]),
            "uuid": event["unique_id"],
        }
        if event["value"] is not None:
            attributes["event_properties"] = {
                **event["properties"],
                "$value": event["value"],
            }
        return {
            "type": "event",
            "id": event["id"],
            "attributes": attributes,
            "relationships": {
                "profile": {"data": {"type": "profile", "id": event["profile_id"]}},
                "metric": {"data": {"type": "metric", "id": event["metric_id"]}},
            },
            "links": {"self": self._url(request, f"/api/events/{event['id']}")},
        }

    def _event_profile(self, state, attributes, pointer):
        profile_data = (attributes.get("profile") or {}).get("data") or {}
        anonymous = self._anonymous_profile(state, profile_data)
        if anonymous is not None:
            return anonymous
        return self._upsert(state, profile_data, pointer)[0]

    def _anonymous_profile(self, state, resource):
        """A profile known by ``anonymous_id`` only (an event without a
        person): one per anonymous id, with no email, phone or external id."""
        attributes = resource.get("attributes") or {}
        anonymous_id = attributes.get("anonymous_id")
        named = any(attributes.get(k) for k in ("email", "phone_number", "external_id"))
        if not anonymous_id or named or resource.get("id"):
            return None
        index = state.setdefault("anonymous", {})
        profile = state["profiles"].get(index.get(anonymous_id))
        if profile is None:
            profile = self._blank_profile(state)
            profile["anonymous_id"] = anonymous_id
            state["profiles"][profile["id"]] = profile
            index[anonymous_id] = profile["id"]
        return profile

    def create_event(self, request):
        """``POST /api/events``: record one event (202); a repeated ``unique_id`` stores
        nothing.
        """
        attributes = request.json["data"]["attributes"]
        problem = long_string(attributes, "/data/attributes")
        if problem:
            return self.error(400, "A single string cannot exceed 100KB.", problem)
        with self.lock:
            state = self._state(request)
            try:
                profile = self._event_profile(
                    state, attributes, "/data/attributes/profile/data"
                )
            except ApiError as exc:
                return self._api_error(exc)
            name = attributes["metric"]["data"]["attributes"]["name"]
            self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def bulk_events(self, request):
        """``POST /api/event-bulk-create-jobs``: up to 1,000 events for several profiles
        (202).
        """
        items = request.json["data"]["attributes"]["events-bulk-create"]["data"]
        total = sum(len(item["attributes"]["events"]["data"]) for item in items)
        if total > MAX_BULK_EVENTS:
            return self.error(
                400,
                f"At most {MAX_BULK_EVENTS} events per request; got {total}.",
                "/data/attributes/events-bulk-create/data",
            )
        base = "/data/attributes/events-bulk-create/data"
        problem = long_string(items, base)
        if problem:
            return self.error(400, "A single string cannot exceed 100KB.", problem)
        with self.lock:
            state = self._state(request)
            resolved = []
            for index, item in enumerate(items):
                try:
                    profile = self._event_profile(
                        state,
                        item["attributes"],
                        f"{base}/{index}/attributes/profile/data",
                    )
                except ApiError as exc:
                    return self._api_error(exc)
                resolved.append((profile, item["attributes"]["events"]["data"]))
            for profile, events in resolved:
                for event in events:
                    attributes = event["attributes"]
                    name = attributes["metric"]["data"]["attributes"]["name"]
                    self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def get_events(self, request):
        """``GET /api/events``."""
        conditions = filters.parse(request.arg("filter"), EVENT_FILTERS)
        with self.lock:
            found = self._matching(
                conditions, self._state(request)["events"], event_value
            )
            found = sort_items(found, request.arg("sort") or "timestamp", event_value)
            return self._page(
                request, found, lambda e: self._event_resource(request, e)
            )

    def get_event(self, request):
        """``GET /api/events/{id}``."""
        with self.lock:
            state = self._state(request)
            for event in state["events"]:
                if event["id"] == request.path_params["id"]:
                    return {"data": self._event_resource(request, event)}
        return self.error(404, f"Event {request.path_params['id']} not found.")

    def get_metrics(self, request):
        """``GET /api/metrics``."""
        with self.lock:
            state = self._state(request)
            data = [
                {
                    "type": "metric",
                    "id": m["id"],
                    "attributes": {"name": m["name"], "created": iso(m["created"])},
                }
                for m in state["metrics"].values()
            ]
        return {"data": data, "links": {"self": self._url(request, "/api/metrics")}}

    # == ESP-side actions =======================================================
