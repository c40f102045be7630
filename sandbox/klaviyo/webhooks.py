"""Klaviyo webhooks: registration and signed delivery."""

import json

from ..core import Response
from .common import (
    METRIC_NAMES,
    iso,
    sign_webhook,
)


class WebhooksMixin:
    """Klaviyo webhooks: registration and signed delivery."""

    # == webhooks ===============================================================
    def _webhook_resource(self, request, hook):
        return {
            "type": "webhook",
            "id": hook["id"],
            "attributes": {
                "name": hook["name"],
                "endpoint_url": hook["endpoint_url"],
                "enabled": hook["enabled"],
                "created_at": iso(hook["created"]),
                "updated_at": iso(hook["created"]),
            },
            "relationships": {
                "webhook-topics": {
                    "data": [{"type": "webhook-topic", "id": t} for t in hook["topics"]]
                }
            },
            "links": {"self": self._url(request, f"/api/webhooks/{hook['id']}")},
        }

    def create_webhook(self, request):
        """``POST /api/webhooks``: register an endpoint, its secret and topics."""
        data = request.json["data"]
        attributes = data["attributes"]
        topics = [t["id"] for t in data["relationships"]["webhook-topics"]["data"]]
        unknown = [t for t in topics if t not in METRIC_NAMES]
        if unknown:
            return self.error(
                400,
                f"Unknown webhook topic {unknown[0]!r}.",
                "/data/relationships/webhook-topics/data",
            )
        if len(attributes["secret_key"]) < 16:
            return self.error(
                400,
                "secret_key must be at least 16 characters.",
                "/data/attributes/secret_key",
            )
        with self.lock:
            state = self._state(request)
            hook = {
                "id": self._new_id(),
                "name": attributes["name"],
                "endpoint_url": attributes["endpoint_url"],
                "secret": attributes["secret_key"],
                "topics": topics,
                "enabled": True,
                "created": self.now(),
            }
            state["webhooks"][hook["id"]] = hook
            return Response(201, {"data": self._webhook_resource(request, hook)})

    def get_webhooks(self, request):
        """``GET /api/webhooks``."""
        with self.lock:
            hooks = list(self._state(request)["webhooks"].values())
            data = [self._webhook_resource(request, h) for h in hooks]
        return {"data": data, "links": {"self": self._url(request, "/api/webhooks")}}

    def get_webhook(self, request):
        """``GET /api/webhooks/{id}``."""
        with self.lock:
            hook = self._state(request)["webhooks"].get(request.path_params["id"])
            if hook is None:
                return self.error(
                    404, f"Webhook {request.path_params['id']} not found."
                )
            return {"data": self._webhook_resource(request, hook)}

    def delete_webhook(self, request):
        """``DELETE /api/webhooks/{id}``."""
        with self.lock:
            if (
                self._state(request)["webhooks"].pop(request.path_params["id"], None)
                is None
            ):
                return self.error(
                    404, f"Webhook {request.path_params['id']} not found."
                )
        return Response(204, None)

    def get_webhook_topics(self, request):
        """``GET /api/webhook-topics``."""
        data = [
            {"type": "webhook-topic", "id": topic, "attributes": {"name": name}}
            for topic, name in METRIC_NAMES.items()
        ]
        return {
            "data": data,
            "links": {"self": self._url(request, "/api/webhook-topics")},
        }

    def _fire(self, state, topic, profile, event):
        """Send the signed webhook of ``topic`` to each subscribed endpoint."""
        for hook in state["webhooks"].values():
            if not hook["enabled"] or (hook["topics"] and topic not in hook["topics"]):
                continue
            timestamp = iso(self.now())
            body = {
                "data": [
                    {
                        "topic": topic,
                        "external_id": event["id"],
                        "payload": {
                            "type": "event",
                            "id": event["id"],
                            "attributes": {
                                "timestamp": int(event["timestamp"]),
                                "datetime": iso(event["timestamp"]),
                                "event_properties": event["properties"],
                                "uuid": event["unique_id"],
                            },
                            "relationships": {
                                "profile": {
                                    "data": {"type": "profile", "id": profile["id"]}
                                },
                                "metric": {
                                    "data": {"type": "metric", "id": event["metric_id"]}
                                },
                            },
                            "included": [
                                {
                                    "type": "profile",
                                    "id": profile["id"],
                                    "attributes": {
                                        "email": profile["email"],
                                        "external_id": profile["external_id"],
                                    },
                                }
                            ],
                        },
                    }
                ],
                "meta": {
                    "klaviyo_account_id": state["account_id"],
                    "klaviyo_webhook_id": hook["id"],
                    "timestamp": timestamp,
                },
            }
            raw = json.dumps(body).encode()
            headers = {
                "Content-Type": "application/json",
                "Klaviyo-Webhook-Id": hook["id"],
                "Klaviyo-Timestamp": timestamp,
                "Klaviyo-Signature": sign_webhook(hook["secret"], raw, timestamp),
            }
            self.sandbox.send_webhook(
                hook["endpoint_url"], raw, headers, provider=self.name
            )
