# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Turn Odoo records into the plain values adapters understand."""

import datetime
import hashlib
import json

from odoo import _, api, models
from odoo.tools import SQL, email_normalize

from .. import const
from ..providers import EspError
from ..providers import events as ev
from ..providers.base import is_usable_email

RECENT_RETURN_DAYS = 30
# Commerce properties every profile carries; a customer without orders (or
# whose only order was cancelled) sends them cleared, never stale.
EMPTY_COMMERCE = {
    "Order Count": 0,
    "Total Spend": 0.0,
    "First Order Date": None,
    "Last Order Date": None,
    "Total Refunded": 0.0,
    "Last Refund Date": None,
    "Recently Returned": False,
    "Last Return Date": None,
}


class EspSkip(Exception):
    """Nothing to send for this row, and why (not an error).

    ``capture``: ``(records, event_type)`` to record instead (an inventory
    change for an item the ESP does not have yet sends the whole item).
    """

    def __init__(self, reason, capture=None):
        super().__init__(reason)
        self.reason = reason
        self.capture = capture


def utc(value):
    if not value:
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    return value.replace(tzinfo=datetime.timezone.utc)


def payload_hash(values):
    """A stable digest of the plain values delivered (dataclasses included)."""
    raw = json.dumps(values, default=_jsonable, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class EspSyncValues(models.AbstractModel):
    """Builds ``providers.events`` values from records, at delivery time."""

    _name = "esp.sync.values"
    _description = "ESP Sync Values Builder"

    @api.model
    def _esp_build(self, event, record):
        """Return the plain values for ``event``; raise EspSkip or EspError.

        Builders only read: they never write the ledger.
        """
        backend = event.backend_id
        if event.event_type == "profile":
            return self._esp_profile(backend, record)
        if event.event_type == "email_change":
            return self._esp_email_change(event, record)
        if event.event_type == "consent":
            consent = self._esp_consent(backend, record)
            if backend.consent_master != "odoo" and not (
                consent.suppressed or consent.status == ev.ConsentStatus.UNSUBSCRIBED
            ):
                # Withdrawals always reach the ESP; opt-ins follow the master.
                raise EspSkip(
                    _(
                        "%(provider)s owns opt-ins for this backend.",
                        provider=backend.provider.title(),
                    )
                )
            return consent
        if event.event_type in const.ORDER_EVENT_KIND:
            return self._esp_order_event(event, record)
        if event.event_type == "catalog":
            return self._esp_catalog_item(event, record)
        if event.event_type == "inventory":
            return self._esp_inventory(event, record)
        if event.event_type == "back_in_stock":
            return ev.BackInStockRequest(
                email=self._esp_email(record.partner_id),
                variant_external_id=str(record.product_id.id),
            )
        raise EspError(
            _("Events of type %(type)s are not delivered yet.", type=event.event_type),
            category="configuration",
        )

    # ----------------------------------------------------------------- people
    @api.model
    def _esp_email(self, partner):
        """The typed email of ``partner``, lowercased; a data EspError when it
        is not exactly one deliverable address."""
        if not partner.email:
            raise EspError(
                _(
                    "%(name)s has no email address, so no ESP can identify them.",
                    name=partner.display_name,
                ),
                category="data",
                code="email_missing",
                field="email",
            )
        # Only the address the person gave: validate what was typed (case
        # and surrounding spaces aside), never what the normaliser would
        # rewrite it to ("a b@c.com" is not "b@c.com").
        typed = partner.email.strip().lower()
        normalized = email_normalize(typed, strict=True)
        if normalized != typed or not is_usable_email(typed):
            raise EspError(
                _(
                    "The email address '%(email)s' of %(name)s is not valid.",
                    email=partner.email,
                    name=partner.display_name,
                ),
                category="data",
                code="email_invalid",
                field="email",
            )
        return normalized

    @api.model
    def _esp_email_change(self, event, partner):
        """Move the person from ``event.old_email``; or forget a removed address.

        With no address left, the old one is unsubscribed (the backend's
        policy), so nobody keeps mailing an address the customer took back.
        """
        backend = event.backend_id
        old = (event.old_email or "").lower()
        if not partner.email:
            if backend.email_removed_policy != "unsubscribe" or not is_usable_email(
                old
            ):
                raise EspSkip(_("The address was removed; the ESP keeps it."))
            return ev.Consent(
                email=old,
                external_id=self._esp_external_id(backend, old),
                status=ev.ConsentStatus.UNSUBSCRIBED,
                source=backend.consent_source or "Odoo",
            )
        profile = self._esp_profile(backend, partner)
        if not is_usable_email(old) or old == profile.email:
            # Nobody can be known at the ESP by an unusable old address: the
            # profile refresh that follows creates the person.
            raise EspSkip(_("No usable old address to move from."))
        binding = self._esp_partner_binding(backend, partner, "profile")
        return ev.EmailChange(
            old_email=old, profile=profile, esp_id=binding.external_id or ""
        )

    @api.model
    def _esp_canonical_partner(self, backend, email):
        """The oldest partner with ``email``: all of them feed one profile."""
        return (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("email_normalized", "=", email),
                    ("company_id", "in", (False, backend.company_id.id)),
                ],
                order="id",
                limit=1,
            )
        )

    @api.model
    def _esp_external_id(self, backend, email, lookups=None):
        """Per-company external id: never shared across companies."""
        canonical_id = lookups and lookups.canonical.get(email)
        if not canonical_id:
            canonical_id = self._esp_canonical_partner(backend, email).id
        return f"odoo-{backend.company_id.id}-{canonical_id}"

    @api.model
    def _esp_profile(self, backend, partner, commerce=None, lookups=None):
        """Profile of ``partner``; ``commerce`` holds precomputed properties,
        ``lookups`` the chunk's :class:`ProfileLookups` (backfill)."""
        email = self._esp_email(partner)
        if commerce is None:
            commerce = self._esp_commerce_properties(backend, [email])
        properties = dict(commerce.get(email, {}))
        properties.update(backend.mapping_ids._esp_values(partner))
        first, _sep, last = (partner.name or "").partition(" ")
        return ev.Profile(
            email=email,
            external_id=self._esp_external_id(backend, email, lookups),
            first_name=first if not partner.is_company else "",
            last_name=last if not partner.is_company else "",
            phone=partner.phone or partner.mobile or "",
            organization=partner.commercial_company_name or "",
            address=self._esp_address(partner),
            properties=properties,
            tags=tuple(partner.category_id.mapped("name")),
            customer_type="b2b" if partner.commercial_partner_id.is_company else "b2c",
            consent=self._esp_consent(backend, partner, lookups),
        )

    @api.model
    def _esp_address(self, partner):
        return ev.Address(
            street=partner.street or "",
            street2=partner.street2 or "",
            city=partner.city or "",
            zip=partner.zip or "",
            region=partner.state_id.name or "",
            country=partner.country_id.name or "",
            country_code=partner.country_id.code or "",
        )

    @api.model
    def _esp_consent(self, backend, partner, lookups=None):
        email = self._esp_email(partner)
        if lookups is None:
            suppressed = partner._esp_is_blacklisted()
            last_sent = self._esp_last_consent_sent(backend, partner)
        else:
            suppressed = lookups.is_blacklisted(partner)
            last_sent = lookups.last_consent.get(partner.id)
        status = partner._esp_consent_status(blacklisted=suppressed)
        return ev.Consent(
            email=email,
            external_id=self._esp_external_id(backend, email, lookups),
            status=ev.ConsentStatus(status),
            consented_at=utc(partner.esp_consent_date),
            source=partner.esp_consent_source or backend.consent_source or "Odoo",
            suppressed=suppressed,
            lift_suppression=not suppressed and last_sent == "suppressed",
        )

    @api.model
    def _esp_last_consent_sent(self, backend, partner):
        """What esp_sync last told ``backend`` about ``partner``'s consent."""
        return self._esp_partner_binding(backend, partner, "consent").last_consent_sent

    @api.model
    def _esp_partner_binding(self, backend, partner, stream):
        """``partner``'s binding of ``stream`` on ``backend`` (may be empty)."""
        return (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("stream", "=", stream),
                ],
                limit=1,
            )
        )

    @api.model
    def _esp_commerce_properties(self, backend, emails):
        """Order count, net spend, first/last order, last refund, returns.

        One SQL aggregate per figure over every partner sharing each email,
        limited to the backend's company (the companies sharing its account,
        merged, for a shared Dotdigital account): no per-record loops.
        """
        siblings = backend._esp_account_siblings()
        result = self._esp_commerce_of(siblings.company_id.ids, emails)
        if len(siblings) > 1:
            per_company = {
                sibling: self._esp_commerce_of([sibling.company_id.id], emails)
                for sibling in siblings
            }
            backend._esp_company_figures(result, per_company)
        if backend.release_gate != "none":
            backend._esp_awaiting_release(result)
        return result

    @api.model
    def _esp_commerce_of(self, company_ids, emails):
        """The commerce properties of ``emails`` over ``company_ids``."""
        result = {email: {} for email in emails}
        if not emails:
            return result
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized,
                       count(so.id) FILTER (WHERE so.state = 'sale'),
                       sum(so.amount_total) FILTER (WHERE so.state = 'sale'),
                       min(so.date_order) FILTER (WHERE so.state = 'sale'),
                       max(so.date_order) FILTER (WHERE so.state = 'sale')
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                 WHERE p.email_normalized = ANY(%s) AND so.company_id = ANY(%s)
                   AND so.state IN ('sale', 'cancel')
                 GROUP BY p.email_normalized
                """,
                list(emails),
                list(company_ids),
            )
        )
        for email, count, total, first, last in self.env.cr.fetchall():
            # Whoever ever bought carries every figure, cleared when none is
            # left (an only order cancelled), so no ESP keeps stale values.
            result[email].update(EMPTY_COMMERCE)
            result[email].update(
                {
                    "Order Count": count or 0,
                    "Total Spend": float(total or 0.0),
                    "First Order Date": first.isoformat() if first else None,
                    "Last Order Date": last.isoformat() if last else None,
                }
            )
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, sum(m.amount_total), max(m.invoice_date)
                  FROM account_move m
                  JOIN res_partner p ON p.id = m.partner_id
                 WHERE p.email_normalized = ANY(%s) AND m.company_id = ANY(%s)
                   AND m.move_type = 'out_refund' AND m.state = 'posted'
                 GROUP BY p.email_normalized
                """,
                list(emails),
                list(company_ids),
            )
        )
        for email, refunded, last_refund in self.env.cr.fetchall():
            props = result[email]
            props.update({k: v for k, v in EMPTY_COMMERCE.items() if k not in props})
            props["Total Refunded"] = float(refunded or 0.0)
            props["Total Spend"] = props.get("Total Spend", 0.0) - float(refunded or 0)
            props["Last Refund Date"] = last_refund.isoformat() if last_refund else None
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, max(sp.date_done)
                  FROM stock_picking sp
                  JOIN res_partner p ON p.id = sp.partner_id
                  JOIN stock_location src ON src.id = sp.location_id
                 WHERE p.email_normalized = ANY(%s) AND sp.company_id = ANY(%s)
                   AND sp.state = 'done' AND src.usage = 'customer'
                 GROUP BY p.email_normalized
                """,
                list(emails),
                list(company_ids),
            )
        )
        now = datetime.datetime.now()
        for email, returned_at in self.env.cr.fetchall():
            recent = bool(
                returned_at
                and now - returned_at < datetime.timedelta(days=RECENT_RETURN_DAYS)
            )
            props = result[email]
            props.update({k: v for k, v in EMPTY_COMMERCE.items() if k not in props})
            props["Recently Returned"] = recent
            props["Last Return Date"] = returned_at.isoformat()
        return result
