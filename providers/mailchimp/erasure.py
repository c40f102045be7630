"""Mailchimp right to erasure: permanent deletion in every audience."""

from ..base import EspError
from . import const, util


class ErasureMixin:
    """``POST .../members/{hash}/actions/delete-permanent`` per audience."""

    def erase_profile(self, erasure):
        """Delete the member for good in each audience it may be in (the
        backend's and its routing rules'); an audience that does not know
        the address is skipped. Mailchimp then refuses to re-add it by API."""
        self._start()
        member_hash = util.subscriber_hash(self._email(erasure.email))
        audiences = list(dict.fromkeys(erasure.audiences or (self._list_id(),)))
        deleted = []
        for list_id in audiences:
            path = const.MEMBER.format(list_id=list_id, subscriber_hash=member_hash)
            try:
                self._request("POST", f"{path}/actions/delete-permanent")
            except EspError as error:
                if error.status != 404:
                    raise
                continue
            deleted.append(list_id)
        return self._result(detail={"deleted_in": deleted})
