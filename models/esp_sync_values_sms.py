# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""SMS consent values: the partner's SMS opt-in and mobile number in E.164."""

import dataclasses

from odoo import _, api, models

from .. import const
from ..providers import EspError
from ..providers import events as ev
from ..providers.phone import PhoneError
from .esp_sync_values import EspSkip, utc


class EspSyncValuesSms(models.AbstractModel):
    _inherit = "esp.sync.values"

    @api.model
    def _esp_build(self, event, record):
        if event.event_type != "sms_consent":
            return super()._esp_build(event, record)
        backend = event.backend_id
        if backend.provider not in const.SMS_PROVIDERS:
            raise EspSkip(
                _(
                    "%(provider)s has no SMS consent in its API.",
                    provider=backend.provider.title(),
                )
            )
        status = ev.ConsentStatus(record._esp_sms_status())
        if status == ev.ConsentStatus.NEVER:
            raise EspSkip(_("No SMS opt-in recorded in Odoo: never subscribed."))
        if backend.consent_master != "odoo" and status != ev.ConsentStatus.UNSUBSCRIBED:
            # Withdrawals always reach the ESP; opt-ins follow the master.
            raise EspSkip(
                _(
                    "%(provider)s owns opt-ins for this backend.",
                    provider=backend.provider.title(),
                )
            )
        return self._esp_sms_consent(backend, record, status)

    @api.model
    def _esp_profile(self, backend, partner, commerce=None, lookups=None):
        """The profile's phone is the mobile in E.164 when it is usable: the
        number SMS consent is given for (Klaviyo keys profiles by it)."""
        profile = super()._esp_profile(backend, partner, commerce, lookups)
        try:
            number = partner._esp_mobile().e164
        except PhoneError:
            return profile
        return dataclasses.replace(profile, phone=number)

    @api.model
    def _esp_sms_consent(self, backend, partner, status):
        """The SMS consent of ``partner``; a data EspError (marketing fixes
        it) when an opt-in has no usable mobile number."""
        email = self._esp_email(partner)
        try:
            number = partner._esp_mobile()
        except PhoneError as error:
            if status == ev.ConsentStatus.UNSUBSCRIBED:
                raise EspSkip(
                    _(
                        "No usable mobile number to unsubscribe (%(reason)s).",
                        reason=error.reason,
                    )
                ) from error
            raise EspError(
                _(
                    "%(name)s opted in to SMS marketing but their mobile number "
                    "cannot be used: %(reason)s. Enter the mobile number with its "
                    "country code (or set the partner's country); no SMS consent "
                    "was sent.",
                    name=partner.display_name,
                    reason=error.reason,
                ),
                category="data",
                code="sms_number_invalid",
                field="mobile",
            ) from error
        return ev.SmsConsent(
            email=email,
            external_id=self._esp_external_id(backend, email),
            phone=number.e164,
            status=status,
            consented_at=utc(partner.esp_sms_consent_date),
            source=partner.esp_consent_source or backend.consent_source or "Odoo",
            country_code=partner.country_id.code or "",
        )
