"""Mailchimp adapter: audience members, e-commerce orders, batches, webhooks.

Mailchimp owns subscription status: members are written with
``status_if_new`` only, so an existing member's status is never changed,
and Odoo learns status changes from webhooks or polling. Odoo owns
everything else (names, address, tags, orders).
"""

import hashlib
import re
import threading

from ..base import (
    DeliveryResult,
    ErrorCategory,
    EspAdapter,
    EspError,
    named_properties,
)
from ..events import ConsentStatus
from . import const, identity, payloads, util
from .bulk import BulkMixin
from .ecommerce import EcommerceMixin
from .erasure import ErasureMixin
from .errors import error_from_response
from .inbound import InboundMixin
from .reconcile import ReconcileMixin
from .reconcile_orders import ReconcileOrdersMixin

# Merge tags known to exist per (base url, key digest, list): one GET per
# process instead of one per delivery.
_merge_tags_cache = {}
_merge_tags_lock = threading.Lock()


def merge_tag(key):
    """The merge tag for a property name: ``"Loyalty Tier"`` -> ``LOYALTY_TI``.

    Upper-case letters, digits and ``_``, at most 10 characters.
    """
    tag = re.sub(r"[^A-Z0-9]+", "_", str(key).upper()).strip("_")
    tag = tag[: const.MERGE_TAG_MAX_LENGTH].rstrip("_")
    if not tag:
        raise EspError(
            f"Property {key!r} cannot be turned into a Mailchimp merge tag",
            category=ErrorCategory.CONFIGURATION,
            field=str(key),
            code=const.CODE_INVALID_MERGE_TAG,
        )
    return tag


class MailchimpAdapter(
    ReconcileMixin,
    ReconcileOrdersMixin,
    ErasureMixin,
    InboundMixin,
    EcommerceMixin,
    BulkMixin,
    EspAdapter,
):
    """Mailchimp Marketing API v3 behind the :class:`EspAdapter` interface."""

    provider = "mailchimp"
    rate_limit_wait = 60.0

    def __init__(self, settings, transport=None):
        super().__init__(settings, transport=transport)
        self._merge_names = {}  # merge tag -> the property name it came from

    # --- the request path (hooks of EspAdapter._send) -------------------------
    @property
    def base_url(self):
        """``settings.base_url`` or the data centre named by the key suffix."""
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        key = self.settings.api_key or ""
        dc = key.rsplit("-", 1)[1] if "-" in key else ""
        if not re.fullmatch(r"[a-z]+[0-9]+", dc):
            raise EspError(
                "The Mailchimp API key has no data-centre suffix (like -us1); "
                "copy the whole key from Mailchimp",
                category=ErrorCategory.CONFIGURATION,
            )
        return const.DEFAULT_BASE_URL.format(dc=dc)

    def _prepare_request(self, method, path, body):
        """Basic auth with the API key, on the key's data centre."""
        if not self.settings.api_key:
            raise EspError(
                "No Mailchimp API key is configured",
                category=ErrorCategory.CONFIGURATION,
            )
        return self.base_url + path, {
            "json": body,
            "auth": (const.AUTH_USER, self.settings.api_key),
            "headers": {"Accept": "application/json"},
        }

    def _error_from_response(self, response):
        return error_from_response(response)

    # --- settings helpers ---------------------------------------------------
    def _list_id(self):
        if not self.settings.mailchimp_list_id:
            raise EspError(
                "No Mailchimp audience (list id) is configured on the backend",
                category=ErrorCategory.CONFIGURATION,
            )
        return self.settings.mailchimp_list_id

    def _store_id(self):
        if not self.settings.mailchimp_store_id:
            raise EspError(
                "No Mailchimp e-commerce store id is configured on the backend",
                category=ErrorCategory.CONFIGURATION,
            )
        return self.settings.mailchimp_store_id

    # --- connection ---------------------------------------------------------
    def test_connection(self):
        """Ping the API and check the audience exists; describe the account."""
        self._start()
        ping = self._request("GET", const.PING)
        text = ping.get("health_status") or "reachable"
        if self.settings.mailchimp_list_id:
            audience = self._request(
                "GET",
                const.LIST.format(list_id=self.settings.mailchimp_list_id),
                params={"fields": "id,name"},
            )
            text += f"; audience {audience.get('name') or self._list_id()!r}"
        return f"Mailchimp: {text}"

    # --- members ------------------------------------------------------------
    def _merge_fields(self, profile):
        """Merge tags for a profile: names, phone, address, then properties."""
        fields = {}
        for tag, value in (
            (const.MERGE_FNAME, profile.first_name),
            (const.MERGE_LNAME, profile.last_name),
            (const.MERGE_PHONE, profile.phone),
        ):
            if value:
                fields[tag] = value
        address = profile.address
        # Mailchimp refuses an ADDRESS without addr1, city, state and zip.
        if (
            address
            and address.street
            and address.city
            and address.region
            and address.zip
        ):
            fields[const.MERGE_ADDRESS] = payloads.MergeAddress(
                addr1=address.street,
                addr2=address.street2 or None,
                city=address.city,
                state=address.region,
                zip=address.zip,
                country=address.country_code or address.country or None,
            )
        for key, tag, value in named_properties(
            profile.properties,
            merge_tag,
            const.STANDARD_MERGE_TAGS,
            "merge tag",
            const.CODE_INVALID_MERGE_TAG,
        ):
            self._merge_names.setdefault(tag, str(key))
            if value is None:
                fields[tag] = ""  # cleared in Odoo: clear it in Mailchimp
                continue
            if value == "":
                continue
            # Custom merge fields are created as text: send text.
            fields[tag] = (
                ("yes" if value else "no")
                if value is True or value is False
                else str(value)
            )
        return fields

    def _member_body(self, profile, email, tags=None):
        # A new member takes Odoo's consent: opted-out ones are created
        # unsubscribed, those who never opted in transactional.
        status = identity.consent_status(profile.consent)
        if status == const.STATUS_NEW_SUBSCRIBED and self._double_opt_in():
            status = const.STATUS_PENDING  # Mailchimp emails the confirmation
        return payloads.MemberUpsert(
            email_address=email,
            status_if_new=status or const.STATUS_NEW_TRANSACTIONAL,
            merge_fields=self._merge_fields(profile),
            tags=tags,
        ).dump()

    def _cache_key(self, list_id):
        digest = hashlib.sha256(self.settings.api_key.encode()).hexdigest()[:12]
        return (self.base_url, digest, list_id)

    def _create_merge_field(self, list_id, tag):
        if not self.settings.extra.get("create_merge_fields", True):
            raise EspError(
                f"The Mailchimp audience has no merge field {tag}; create it in "
                "Mailchimp or allow esp_sync to create merge fields",
                category=ErrorCategory.CONFIGURATION,
                field=tag,
                code=const.CODE_MERGE_FIELD_MISSING,
            )
        name = self._merge_names.get(tag) or tag.title()
        body = payloads.MergeFieldCreate(tag=tag, name=name).dump()
        self._request("POST", const.MERGE_FIELDS.format(list_id=list_id), json=body)
        with _merge_tags_lock:
            _merge_tags_cache.setdefault(self._cache_key(list_id), set()).add(tag)

    def _ensure_merge_fields(self, list_id, tags):
        """Create custom merge fields the audience lacks (Mailchimp drops
        unknown merge tags silently, so checking first is the only way)."""
        custom = {t for t in tags if t not in const.STANDARD_MERGE_TAGS}
        if not custom:
            return
        key = self._cache_key(list_id)
        with _merge_tags_lock:
            known = _merge_tags_cache.get(key)
        if known is None or not custom <= known:
            page = self._request(
                "GET",
                const.MERGE_FIELDS.format(list_id=list_id),
                params={"count": const.PAGE_SIZE, "fields": "merge_fields.tag"},
            )
            known = {m.get("tag") for m in page.get("merge_fields") or []}
            with _merge_tags_lock:
                _merge_tags_cache[key] = set(known)
        for tag in sorted(custom - known):
            self._create_merge_field(list_id, tag)

    def _put_member(self, list_id, member_hash, body):
        path = const.MEMBER.format(list_id=list_id, subscriber_hash=member_hash)
        try:
            return self._request("PUT", path, json=body)
        except EspError as error:
            if error.code != const.CODE_MERGE_FIELD_MISSING or not error.field:
                raise
            tag = error.field.split(".")[-1]
            self._create_merge_field(list_id, tag)
            return self._request("PUT", path, json=body)

    def _managed_tag(self, name):
        """Whether Odoo owns tag ``name`` and may deactivate it.

        Only tags Odoo knows (``managed_tags``: the engine passes every partner
        category name) or carrying ``tag_prefix`` are Odoo's; with neither
        configured no tag is, so tags marketers add in Mailchimp survive.
        """
        managed = self.settings.extra.get("managed_tags")
        if managed is not None:
            return name.lower() in {str(m).lower() for m in managed}
        prefix = self.settings.extra.get("tag_prefix")
        return bool(prefix) and name.startswith(prefix)

    def _sync_tags(self, list_id, member_hash, wanted):
        """Activate ``wanted`` and deactivate managed tags no longer wanted."""
        path = const.MEMBER_TAGS.format(list_id=list_id, subscriber_hash=member_hash)
        page = self._request(
            "GET", path, params={"count": const.PAGE_SIZE, "fields": "tags.name"}
        )
        current = {t.get("name") for t in page.get("tags") or [] if t.get("name")}
        lowered = {c.lower() for c in current}
        wanted_lower = {w.lower() for w in wanted}
        added = [w for w in wanted if w.lower() not in lowered]
        removed = sorted(
            c for c in current if c.lower() not in wanted_lower and self._managed_tag(c)
        )
        if added or removed:
            changes = [payloads.TagChange(name=n, status="active") for n in added]
            changes += [payloads.TagChange(name=n, status="inactive") for n in removed]
            self._request("POST", path, json=payloads.MemberTags(tags=changes).dump())
        return added, removed

    def upsert_profile(self, profile):
        """PUT the member (status only for new members), then sync its tags.

        A person routed to another audience (``profile.moved_from``) moves
        there: see :func:`.identity.move_audience`.
        """
        self._start()
        if profile.moved_from and profile.moved_from != self._list_id():
            return identity.move_audience(self, profile)
        email = self._email(profile.email)
        list_id = self._list_id()
        member_hash = util.subscriber_hash(email)
        body = self._member_body(profile, email)
        self._ensure_merge_fields(list_id, body["merge_fields"])
        member = self._put_member(list_id, member_hash, body)
        detail = {"status": member.get("status", "")}
        if self.settings.extra.get("sync_tags", True):
            wanted = list(dict.fromkeys(t for t in profile.tags if t))
            added, removed = self._sync_tags(list_id, member_hash, wanted)
            detail.update(tags_added=added, tags_removed=removed)
        return self._result(external_id=member_hash, detail=detail)

    def change_email(self, change):
        """Move the member to the new address (see :mod:`.identity`)."""
        return identity.change_email(self, change)

    def update_consent(self, consent):
        """Withdrawals made in Odoo reach the member; opt-ins stay Mailchimp's.

        Mailchimp masters subscription status, so a grant is never sent; an
        unsubscribe or a blacklist makes an existing member ``unsubscribed``
        (a person Mailchimp does not know is left alone).
        """
        withdrawn = consent.suppressed or consent.status == ConsentStatus.UNSUBSCRIBED
        granted = consent.status == ConsentStatus.SUBSCRIBED
        if granted and not withdrawn and self._double_opt_in():
            return self._request_confirmation(consent)
        if not withdrawn:
            return DeliveryResult(skipped_reason=const.SKIP_CONSENT, requests=0)
        self._start()
        path = const.MEMBER.format(
            list_id=self._list_id(), subscriber_hash=util.subscriber_hash(consent.email)
        )
        try:
            self._request("PATCH", path, json={"status": "unsubscribed"})
        except EspError as err:
            if err.status == 404:
                return self._result(skipped_reason="Not a member of the audience.")
            raise
        return self._result(detail={"action": "unsubscribed"})

    # --- double opt-in ------------------------------------------------------------
    def _double_opt_in(self):
        return bool(self.settings.extra.get("double_opt_in"))

    def _request_confirmation(self, consent):
        """Double opt-in: a new member is created ``pending`` (Mailchimp
        emails the confirmation link); an existing member keeps its status,
        Mailchimp's to master. Awaiting confirmation while it is pending."""
        self._start()
        email = self._email(consent.email)
        body = payloads.MemberUpsert(
            email_address=email, status_if_new=const.STATUS_PENDING
        ).dump()
        member = self._put_member(self._list_id(), util.subscriber_hash(email), body)
        status = member.get("status", "")
        detail = {"action": "member " + (status or "unknown"), "status": status}
        if status == const.STATUS_PENDING:
            detail["awaiting_confirmation"] = True
        return self._result(external_id=util.subscriber_hash(email), detail=detail)

    def read_subscription(self, email):
        """The member's status (``cleaned`` reads as unsubscribed); ``None``
        when the audience does not know the address."""
        self._start()
        path = const.MEMBER.format(
            list_id=self._list_id(), subscriber_hash=util.subscriber_hash(email)
        )
        try:
            member = self._request("GET", path, params={"fields": "status"})
        except EspError as err:
            if err.status == 404:
                return None
            raise
        status = member.get("status") or ""
        if status in ("unsubscribed", "cleaned"):
            return "unsubscribed"
        if status in ("subscribed", const.STATUS_PENDING):
            return status
        return "never"

    def register_webhook(self, url):
        """Register the audience webhook (user/admin sources only, not api)."""
        self._start()
        events = payloads.WebhookEvents(**dict.fromkeys(const.WEBHOOK_EVENTS, True))
        body = payloads.Webhook(url=url, events=events).dump()
        hook = self._request(
            "POST", const.WEBHOOKS.format(list_id=self._list_id()), json=body
        )
        return self._result(external_id=str(hook.get("id") or ""))

    def leave_audience(self, member_hash):
        """Archive the member from this audience, reporting the status it
        held (see :func:`.identity.leave_audience`)."""
        self._start()
        return identity.leave_audience(self, member_hash)
