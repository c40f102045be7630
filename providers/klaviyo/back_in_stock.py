"""Klaviyo back-in-stock subscriptions, registered for a customer by Odoo."""

from . import const


class BackInStockMixin:
    """``POST /api/back-in-stock-subscriptions`` (needs ``_request``)."""

    def subscribe_back_in_stock(self, request):
        """Register ``request.email`` for the variant's back-in-stock alert
        (:class:`events.BackInStockRequest`); Klaviyo's back-in-stock flow
        sends it when the catalogue variant's inventory comes back."""
        self._start()
        variant_id = f"{const.CATALOG_ID_PREFIX}{request.variant_external_id}"
        body = {
            "data": {
                "type": "back-in-stock-subscription",
                "attributes": {
                    "channels": ["EMAIL"],
                    "profile": {
                        "data": {
                            "type": "profile",
                            "attributes": {"email": self._email(request.email)},
                        }
                    },
                },
                "relationships": {
                    "variant": {"data": {"type": "catalog-variant", "id": variant_id}}
                },
            }
        }
        self._request("POST", const.PATH_BACK_IN_STOCK, json=body)
        return self._result(external_id=variant_id)
