"""Klaviyo orders read back for reconciliation: events by metric and date.

``GET /api/metrics`` names the metric ids; ``GET /api/events`` filtered by
metric and ``datetime`` lists Placed Order events of the period, then the
Cancelled and Refunded events since its start (they come later), paged by
``links.next``. An order's events fold into one :class:`RemoteOrder`.
"""

import datetime

from ..events import EventKind, RemoteOrder
from ..wire import dig, parse_timestamp
from . import const
from .reconcile import _next_page

PAGE = 200
PATH_METRICS = "/api/metrics"


class ReconcileOrdersMixin:
    """``read_orders`` and ``read_contacts_page`` (needs ``_request``)."""

    def read_orders(self, since, until):
        self._start()
        metrics = self._metric_ids()
        placed = metrics.get(const.METRIC_BY_KIND[EventKind.PLACED])
        if not placed:
            return {}
        orders = {}
        for event in self._events(placed, since, until):
            props = dig(event, "attributes", "event_properties") or {}
            order_id = str(props.get("OrderId") or "")
            if not order_id:
                continue
            entry = orders.setdefault(order_id, {"placed": 0, "cancelled": 0})
            entry["placed"] += 1
            entry["total"] = float(props.get("$value") or 0.0)
            entry["placed_at"] = _moment(event)
            entry["refunded"] = 0.0
        for kind in (EventKind.CANCELLED, EventKind.REFUNDED):
            metric = metrics.get(const.METRIC_BY_KIND[kind])
            if not metric:
                continue
            for event in self._events(metric, since, None):
                props = dig(event, "attributes", "event_properties") or {}
                entry = orders.get(str(props.get("OrderId") or ""))
                if entry is None:
                    continue  # an order of another period
                if kind == EventKind.CANCELLED:
                    entry["cancelled"] += 1
                else:
                    entry["refunded"] += float(props.get("$value") or 0.0)
        return {
            order_id: RemoteOrder(
                order_id=order_id,
                status="cancelled"
                if entry["cancelled"] >= entry["placed"]
                else "placed",
                total=round(entry["total"], 2),
                refunded=round(entry["refunded"], 2),
                placed_at=entry["placed_at"],
            )
            for order_id, entry in orders.items()
        }

    def read_contacts_page(self, cursor=None):
        self._start()
        params = dict(cursor or {}) or {
            "fields[profile]": "email",
            "page[size]": 100,
        }
        doc = self._request("GET", const.PATH_PROFILES, params=params)
        emails = [
            (dig(resource, "attributes", "email") or "").strip().lower()
            for resource in doc.get("data") or []
        ]
        return [e for e in emails if e], _next_page(doc)

    def _metric_ids(self):
        doc = self._request("GET", PATH_METRICS)
        return {
            dig(metric, "attributes", "name"): metric.get("id")
            for metric in doc.get("data") or []
        }

    def _events(self, metric_id, since, until):
        conditions = [f'equals(metric_id,"{metric_id}")']
        if since:
            conditions.append(f"greater-or-equal(datetime,{_iso(since)})")
        if until:
            conditions.append(f"less-than(datetime,{_iso(until)})")
        params = {
            "filter": ",".join(conditions),
            "fields[event]": "datetime,event_properties",
            "page[size]": PAGE,
        }
        while params:
            doc = self._request("GET", const.PATH_EVENTS, params=params)
            yield from doc.get("data") or []
            params = _next_page(doc)


def _iso(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(event):
    return parse_timestamp(dig(event, "attributes", "datetime"))
