# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What may leave Odoo, or decide who does: one allow-list.

Mapping sources (``esp.field.mapping.field_path``) and audience-rule domains
are read as superuser at delivery time, so what a manager may configure is
limited here to a person's public contact and commerce data. Internal notes,
bank and tax data, users and their credentials are never reachable.
"""

from odoo.tools.safe_eval import safe_eval

from .. import const

# Per model, the fields a path may use. A relational field leads to its
# comodel, whose own entry applies to the next step.
ALLOWED_FIELDS = {
    # What a profile carries anyway, and more of the person's public data.
    "res.partner": const.PROFILE_FIELDS
    | const.CONSENT_FIELDS
    | {
        "id",
        "display_name",
        "complete_name",
        "email_normalized",
        "country_code",
        "company_name",
        "commercial_company_name",
        "commercial_partner_id",
        "child_ids",
        "company_id",
        "type",
        "tz",
        "title",
        "function",
        "website",
        "ref",
        "active",
        "partner_share",
        "customer_rank",
        "supplier_rank",
        "industry_id",
        "user_id",
        "team_id",
        "property_product_pricelist",
        "sale_order_ids",
        "sale_order_count",
        "is_blacklisted",
        "esp_consent_date",
        "esp_consent_source",
        "create_date",
        "write_date",
    },
    "res.country": {"id", "name", "code", "display_name"},
    "res.country.state": {"id", "name", "code", "country_id", "display_name"},
    "res.partner.category": {"id", "name", "parent_id", "display_name"},
    "res.partner.title": {"id", "name", "shortcut", "display_name"},
    "res.partner.industry": {"id", "name", "full_name", "display_name"},
    "res.users": {"id", "name", "display_name"},
    "crm.team": {"id", "name", "display_name"},
    "product.pricelist": {"id", "name", "currency_id", "display_name"},
    "res.currency": {"id", "name", "symbol", "display_name"},
    "res.company": {"id", "name", "display_name"},
    "sale.order": {
        "id",
        "name",
        "state",
        "date_order",
        "amount_total",
        "amount_untaxed",
        "currency_id",
        "company_id",
        "team_id",
        "display_name",
    },
}
# Records of custom models (x_...) expose their name and custom fields.
CUSTOM_MODEL_FIELDS = {"id", "name", "display_name"}
DOMAIN_OPERATORS = ("&", "|", "!")
SUBDOMAIN_OPERATORS = ("any", "not any")


def _allowed(model, name):
    """True when ``name`` of ``model`` may be read for an ESP."""
    if name.startswith("x_"):
        return True  # custom fields are made for this
    if model._name.startswith("x_"):
        return name in CUSTOM_MODEL_FIELDS
    return name in ALLOWED_FIELDS.get(model._name, ())


def path_error(model, path):
    """Why ``path`` (dotted, from ``model``) may not be used, or ``""``."""
    for name in (path or "").split("."):
        field = model._fields.get(name)
        if field is None:
            return ""  # the caller reports unknown fields its own way
        if not _allowed(model, name):
            return model.env._(
                "'%(path)s' reads %(field)s of %(model)s, which is not public "
                "contact or commerce data; only those may reach an ESP.",
                path=path,
                field=name,
                model=model._name,
            )
        if not field.relational:
            return ""
        comodel = field.comodel_name
        if comodel not in ALLOWED_FIELDS and not comodel.startswith("x_"):
            # Even its display name may be private (a bank account's number).
            return model.env._(
                "'%(path)s' leads to %(model)s, which holds no public contact "
                "or commerce data.",
                path=path,
                model=comodel,
            )
        model = model.env[comodel]
    return ""


def domain_error(model, domain):
    """Why the text ``domain`` on ``model`` may not be used, or ``""``.

    Every leaf's field path must pass :func:`path_error`; ``any`` and
    ``not any`` sub-domains are checked on their comodel.
    """
    try:
        leaves = safe_eval(domain or "[]")
    except Exception as exc:  # the domain constraint words this one
        return str(exc)
    return _leaves_error(model, leaves)


def _leaves_error(model, leaves):
    if not isinstance(leaves, list | tuple):
        return model.env._("A domain must be a list.")
    for leaf in leaves:
        if leaf in DOMAIN_OPERATORS:
            continue
        if not isinstance(leaf, list | tuple) or len(leaf) != 3:
            return model.env._("%(leaf)s is not a domain condition.", leaf=leaf)
        left, operator, right = leaf
        if isinstance(left, int) and left in (0, 1):
            continue  # TRUE_LEAF / FALSE_LEAF
        if not isinstance(left, str):
            return model.env._("%(leaf)s is not a domain condition.", leaf=leaf)
        error = path_error(model, left)
        if error:
            return error
        if operator in SUBDOMAIN_OPERATORS:
            field = _last_field(model, left)
            if field is None or not field.relational:
                return model.env._("%(leaf)s is not a domain condition.", leaf=leaf)
            error = _leaves_error(model.env[field.comodel_name], right)
            if error:
                return error
    return ""


def _last_field(model, path):
    field = None
    for name in path.split("."):
        field = model._fields.get(name)
        if field is None:
            return None
        if field.relational:
            model = model.env[field.comodel_name]
    return field
