# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

import responses

KLAVIYO_URL = "https://a.klaviyo.com"


class KlaviyoHttpMixin:
    """Klaviyo's answers mocked with ``responses``, for the tests that check
    the requests an Odoo record becomes (beside ``EspSyncCase``)."""

    def _klaviyo_ok(self, rsps):
        """Register 2xx answers for the Klaviyo endpoints the engine calls."""
        rsps.add(
            responses.POST,
            f"{KLAVIYO_URL}/api/profile-import",
            json={"data": {"type": "profile", "id": "01PROFILE", "attributes": {}}},
            status=201,
        )
        rsps.add(responses.POST, f"{KLAVIYO_URL}/api/events", status=202)
        # Read before an opt-in: no opt-out at Klaviyo (no profile yet).
        rsps.add(responses.GET, f"{KLAVIYO_URL}/api/profiles", json={"data": []})
        rsps.add(
            responses.POST,
            f"{KLAVIYO_URL}/api/profile-subscription-bulk-create-jobs",
            status=202,
        )
        rsps.add(
            responses.POST,
            f"{KLAVIYO_URL}/api/profile-subscription-bulk-delete-jobs",
            status=202,
        )
        rsps.add(
            responses.POST,
            f"{KLAVIYO_URL}/api/profile-suppression-bulk-create-jobs",
            status=202,
        )

    def _klaviyo_email_change_ok(self, rsps):
        """2xx answers for the Klaviyo calls that move a profile's address."""
        rsps.add(
            responses.GET,
            f"{KLAVIYO_URL}/api/profiles",
            json={"data": [{"type": "profile", "id": "01PROFILE", "attributes": {}}]},
        )
        rsps.add(
            responses.PATCH,
            f"{KLAVIYO_URL}/api/profiles/01PROFILE",
            json={"data": {"type": "profile", "id": "01PROFILE", "attributes": {}}},
        )

    @staticmethod
    def _bodies(rsps, path):
        return [
            json.loads(call.request.body)
            for call in rsps.calls
            if call.request.url.split("?")[0].endswith(path)
        ]

    @staticmethod
    def _metric(body):
        return body["data"]["attributes"]["metric"]["data"]["attributes"]["name"]
