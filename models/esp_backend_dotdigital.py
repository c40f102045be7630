# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Several Odoo companies sharing one Dotdigital account (seed 001 FAQ).

Dotdigital keeps one contact per email address. With separate accounts per
company nothing is shared; with one shared account, each company's backend
writes the same contact, so the commerce figures must be the merged ones
(summed over the companies sharing the account) and each company's own
figures go to data fields of their own, prefixed by the company's code:
never the last company's figures overwriting another's.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# Per-company figures kept apart in a shared account (a code prefixes each).
COMPANY_FIGURES = ("Order Count", "Total Spend", "Last Order Date")


class EspBackend(models.Model):
    _inherit = "esp.backend"

    dotdigital_shared_account = fields.Boolean(
        "Account shared by several companies",
        help="Several Odoo companies use this Dotdigital account: contact "
        "figures are merged across them (order count and spend summed) and "
        "each company's own figures go to data fields prefixed by its code.",
    )
    dotdigital_company_code = fields.Char(
        "Company code",
        size=5,
        help="Prefix of this company's own data fields in a shared account, "
        "e.g. UK gives UK_ORDER_COUNT and UK_TOTAL_SPEND.",
    )

    dotdigital_never_opted_in = fields.Selection(
        [
            ("neutral", "Outside the marketing address book"),
            ("unsubscribed", "Unsubscribed"),
        ],
        "Customers who never opted in",
        default="neutral",
        required=True,
        help="How a customer without an Odoo opt-in is created in Dotdigital. "
        "Outside the marketing address book (recommended): Dotdigital's default "
        "status, so a later opt-in, even one made or imported in Dotdigital, is "
        "never blocked; campaigns to the address book never reach them (never "
        "send campaigns to 'All contacts'). Unsubscribed: on the account's "
        "suppression list until Odoo records an opt-in.",
    )

    @api.constrains("dotdigital_shared_account", "dotdigital_company_code")
    def _check_dotdigital_company_code(self):
        for backend in self.filtered("dotdigital_shared_account"):
            code = (backend.dotdigital_company_code or "").strip()
            if not code or not code.replace("_", "").isalnum() or code[0].isdigit():
                raise ValidationError(
                    _(
                        "%(name)s shares its Dotdigital account: give it a company "
                        "code of letters and digits (not starting with a digit).",
                        name=backend.name,
                    )
                )

    def _esp_account_siblings(self):
        """The active backends writing the same shared Dotdigital account
        (``self`` included); just ``self`` when the account is not shared."""
        self.ensure_one()
        if self.provider != "dotdigital" or not self.dotdigital_shared_account:
            return self
        backends = self.sudo().search(
            [
                ("provider", "=", "dotdigital"),
                ("dotdigital_shared_account", "=", True),
            ]
        )
        user = self.sudo().api_user
        return backends.filtered(lambda b: b.api_user == user) | self

    def _esp_company_figures(self, merged, per_company):
        """Add each sibling company's own figures, prefixed by its code, to
        the ``merged`` properties (``{email: props}``), in place."""
        for backend, figures in per_company.items():
            code = backend.dotdigital_company_code.strip().upper()
            for email, props in merged.items():
                if not props:
                    continue  # never bought anywhere: nothing to split
                own = figures.get(email) or {}
                for figure in COMPANY_FIGURES:
                    default = 0 if figure != "Last Order Date" else None
                    props[f"{code} {figure}"] = own.get(figure, default)
        return merged
