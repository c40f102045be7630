"""Mailchimp's rules for changing a member's email address.

Only subscribed, pending and transactional members can take a new address:
an unsubscribed or cleaned member is in a compliance state and keeps the
address it opted out (or bounced) with; the new address must not already be
a member of the audience, archived ones included.
"""

from .common import ApiError

MOVABLE_STATUSES = ("subscribed", "pending", "transactional")


def check_email_change(members, member, new_email, new_hash):
    """Raise the 400 Mailchimp answers when ``member`` may not move."""
    if member["status"] not in MOVABLE_STATUSES:
        raise ApiError(
            400,
            f"{member['email_address']} is {member['status']}: the email address "
            "of a member in a compliance state cannot be changed.",
            title="Member In Compliance State",
        )
    if new_hash in members:
        raise ApiError(
            400, f"{new_email} is already a list member.", title="Member Exists"
        )
