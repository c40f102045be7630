"""Dotdigital right to erasure: the contact deleted."""


class ErasureMixin:
    """``DELETE /contacts/v3/email/{email}`` (needs ``_request``)."""

    def erase_profile(self, erasure):
        """Delete the contact (a contact Dotdigital does not know is no error)."""
        self._start()
        path = self._contact_path(self._email(erasure.email))
        if not self._delete_if_present(path):
            return self._result(detail={"action": "unknown to Dotdigital"})
        return self._result(detail={"action": "deleted"})
