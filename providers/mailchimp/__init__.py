"""Mailchimp Marketing API v3 client (Odoo-free).

Mailchimp masters subscription status; Odoo masters everything else.
"""

from .adapter import MailchimpAdapter

__all__ = ["MailchimpAdapter"]
