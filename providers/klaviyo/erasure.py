"""Klaviyo right to erasure: a data-privacy deletion job per person."""

from . import const


class ErasureMixin:
    """``POST /api/data-privacy-deletion-jobs`` (needs ``_request``)."""

    def erase_profile(self, erasure):
        """Ask Klaviyo to delete the profile and its data (asynchronous on
        Klaviyo's side; a person it does not know is no error)."""
        self._start()
        body = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {
                    "profile": {
                        "data": {
                            "type": "profile",
                            "attributes": {"email": self._email(erasure.email)},
                        }
                    }
                },
            }
        }
        self._request("POST", const.PATH_DELETION_JOBS, json=body)
        return self._result(detail={"action": "deletion requested"})
