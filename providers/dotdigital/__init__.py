"""Dotdigital client (Odoo-free): contacts v3, insight data v3, v2 account.

Odoo masters consent in Dotdigital.
"""

from .adapter import DotdigitalAdapter

__all__ = ["DotdigitalAdapter"]
