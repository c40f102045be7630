"""Dotdigital right to erasure: the contact deleted."""

from ..base import EspError


class ErasureMixin:
    """``DELETE /contacts/v3/email/{email}`` (needs ``_request``)."""

    def erase_profile(self, erasure):
        """Delete the contact (a contact Dotdigital does not know is no error)."""
        self._start()
        try:
            self._request("DELETE", self._contact_path(self._email(erasure.email)))
        except EspError as error:
            if error.status != 404:
                raise
            return self._result(detail={"action": "unknown to Dotdigital"})
        return self._result(detail={"action": "deleted"})
