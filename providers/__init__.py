"""ESP adapters, free of Odoo imports (relative imports only).

``get_adapter(settings)`` returns the adapter for ``settings.provider``.
"""

from .base import BackendSettings, DeliveryResult, ErrorCategory, EspError


def get_adapter(settings, transport=None):
    """Return the :class:`base.EspAdapter` for ``settings.provider``."""
    if settings.provider == "klaviyo":
        from .klaviyo.adapter import KlaviyoAdapter as adapter_cls
    elif settings.provider == "mailchimp":
        from .mailchimp.adapter import MailchimpAdapter as adapter_cls
    elif settings.provider == "dotdigital":
        from .dotdigital.adapter import DotdigitalAdapter as adapter_cls
    else:
        raise EspError(
            f"Unknown provider {settings.provider!r}",
            category=ErrorCategory.CONFIGURATION,
        )
    return adapter_cls(settings, transport=transport)


__all__ = [
    "BackendSettings",
    "DeliveryResult",
    "ErrorCategory",
    "EspError",
    "get_adapter",
]
