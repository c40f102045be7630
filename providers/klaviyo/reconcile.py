"""Klaviyo read-back for reconciliation: profiles by email, 100 a page."""

from urllib.parse import parse_qs, urlsplit

from ..events import RemoteProfile
from ..wire import dig
from . import const

PAGE = 100


class ReconcileMixin:
    """``GET /api/profiles?filter=any(email,[...])`` (needs ``_request``)."""

    def read_profiles(self, emails, property_names=()):
        self._start()
        found = {}
        wanted = sorted({self._email(email) for email in emails})
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            quoted = ",".join(f'"{email}"' for email in chunk)
            params = {
                "filter": f"any(email,[{quoted}])",
                "additional-fields[profile]": "subscriptions",
                "page[size]": PAGE,
            }
            while params:
                doc = self._request("GET", const.PATH_PROFILES, params=params)
                for resource in doc.get("data") or []:
                    remote = _remote(resource, property_names)
                    if remote:
                        found[remote.email] = remote
                params = _next_page(doc)
        return found


def _remote(resource, property_names):
    attributes = resource.get("attributes") or {}
    email = (attributes.get("email") or "").strip().lower()
    if not email:
        return None
    properties = attributes.get("properties") or {}
    return RemoteProfile(
        email=email,
        consent=_consent(dig(attributes, "subscriptions", "email", "marketing") or {}),
        first_name=attributes.get("first_name") or "",
        last_name=attributes.get("last_name") or "",
        properties={n: properties[n] for n in property_names if n in properties},
    )


def _consent(marketing):
    reasons = [s.get("reason") for s in marketing.get("suppression") or ()]
    if any(const.SUPPRESSION_STATUS.get(r) != "unsubscribed" for r in reasons):
        return "suppressed"
    consent = marketing.get("consent")
    if consent == "UNSUBSCRIBED" or reasons:
        return "unsubscribed"
    return "subscribed" if consent == "SUBSCRIBED" else "never"


def _next_page(doc):
    link = dig(doc, "links", "next")
    if not link:
        return None
    query = parse_qs(urlsplit(link).query)
    return {key: values[0] for key, values in query.items()}
