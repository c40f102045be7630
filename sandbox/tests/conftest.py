"""Fixtures: an in-process sandbox on a free port, and a Klaviyo client."""

import json

import pytest
import requests

from sandbox import Sandbox


@pytest.fixture(scope="module")
def module_sandbox():
    """One sandbox per test module (reset before each test by ``sb``)."""
    with Sandbox(port=0, validate=True, rate_limits=False, seed=0) as sandbox:
        yield sandbox


@pytest.fixture
def sb(module_sandbox):
    """A clean sandbox: state, logs, options and faults reset."""
    module_sandbox.reset()
    module_sandbox.configure(
        validate=True, rate_limits=False, rate_limit_scale=1.0, faults=[], seed=0
    )
    yield module_sandbox


# -- Klaviyo test client -------------------------------------------------------
KEY = "pk_sandbox_alpha"
JSONAPI = "application/vnd.api+json"


def headers(key=KEY, revision="2026-07-15"):
    found = {"Authorization": f"Klaviyo-API-Key {key}", "Content-Type": JSONAPI}
    if revision:
        found["revision"] = revision
    return found


class KlaviyoClient:
    """Tiny Klaviyo client for the tests."""

    def __init__(self, sandbox, key=KEY):
        self.base = sandbox.url + "/klaviyo"
        self.key = key

    def headers(self, revision="2026-07-15"):
        return headers(self.key, revision)

    def get(self, path, **params):
        return requests.get(
            self.base + path, params=params, headers=headers(self.key), timeout=5
        )

    def post(self, path, body, **kwargs):
        return requests.post(
            self.base + path,
            data=json.dumps(body),
            headers=headers(self.key),
            timeout=10,
            **kwargs,
        )

    def patch(self, path, body):
        return requests.patch(
            self.base + path,
            data=json.dumps(body),
            headers=headers(self.key),
            timeout=5,
        )

    def upsert(self, **attributes):
        return self.post(
            "/api/profile-import",
            {"data": {"type": "profile", "attributes": attributes}},
        )

    def event(self, email, metric="Placed Order", unique_id=None, **properties):
        attributes = {
            "properties": properties,
            "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
        }
        if unique_id:
            attributes["unique_id"] = unique_id
        return self.post(
            "/api/events", {"data": {"type": "event", "attributes": attributes}}
        )

    def profile(self, email):
        answer = self.get(
            "/api/profiles",
            filter=f"equals(email,'{email}')",
            **{"additional-fields[profile]": "subscriptions"},
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        return data[0] if data else None

    def marketing(self, email):
        return self.profile(email)["attributes"]["subscriptions"]["email"]["marketing"]

    def subscribe(self, emails, list_id=None, **extra):
        profiles = [
            {
                "type": "profile",
                "attributes": {
                    "email": email,
                    "subscriptions": {
                        "email": {
                            "marketing": {
                                "consent": "SUBSCRIBED",
                                "consented_at": "2026-01-01T10:00:00+00:00",
                            }
                        }
                    },
                },
            }
            for email in emails
        ]
        data = {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": "Odoo checkout",
                "profiles": {"data": profiles},
                **extra,
            },
        }
        if list_id:
            data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
        return self.post("/api/profile-subscription-bulk-create-jobs", {"data": data})

    def unsubscribe(self, emails):
        profiles = [
            {
                "type": "profile",
                "attributes": {
                    "email": email,
                    "subscriptions": {
                        "email": {"marketing": {"consent": "UNSUBSCRIBED"}}
                    },
                },
            }
            for email in emails
        ]
        data = {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": profiles}},
        }
        return self.post("/api/profile-subscription-bulk-delete-jobs", {"data": data})

    def suppression(self, emails, delete=False):
        kind = "delete" if delete else "create"
        data = {
            "type": f"profile-suppression-bulk-{kind}-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {"type": "profile", "attributes": {"email": e}} for e in emails
                    ]
                }
            },
        }
        return self.post(f"/api/profile-suppression-bulk-{kind}-jobs", {"data": data})

    def create_list(self, name, opt_in="single_opt_in"):
        body = {
            "data": {
                "type": "list",
                "attributes": {"name": name, "opt_in_process": opt_in},
            }
        }
        answer = self.post("/api/lists", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]["id"]


@pytest.fixture
def klaviyo_client():
    """Factory: ``klaviyo_client(sandbox, key=KEY)``."""
    return KlaviyoClient


@pytest.fixture
def kl(sb):
    """A Klaviyo client on the clean sandbox, with the default key."""
    return KlaviyoClient(sb)
