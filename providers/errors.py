"""The errors every adapter raises, classified for the engine.

An :class:`EspError` carries a :class:`ErrorCategory` that tells the engine
what to do next (retry later, fix data, fix configuration); messages never
carry credentials (:func:`redact`).
"""

import enum
import re


class ErrorCategory(str, enum.Enum):
    """Why a delivery failed; decides retry or exception, and the owner team."""

    DATA = "data"
    CONFIGURATION = "configuration"
    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    AUTHENTICATION = "authentication"

    @property
    def retryable(self):
        return self in (ErrorCategory.RATE_LIMIT, ErrorCategory.TRANSIENT)


class EspError(Exception):
    """A failed ESP call, classified. Messages never carry credentials."""

    def __init__(
        self,
        message,
        *,
        category,
        status=None,
        field=None,
        code=None,
        retry_after=None,
    ):
        super().__init__(message)
        self.message = message
        self.category = ErrorCategory(category)
        self.status = status
        self.field = field
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self):
        return self.category.retryable

    def redact(self, secrets):
        """Remove ``secrets`` from the message; return the error itself."""
        self.message = redact(self.message, secrets)
        self.args = (self.message,)
        return self

    def __str__(self):
        prefix = f"HTTP {self.status}: " if self.status else ""
        suffix = f" (field: {self.field})" if self.field else ""
        return f"{prefix}{self.message}{suffix}"


def category_for_status(status):
    """Map an HTTP status to the error category the engine acts on."""
    if status == 429:
        return ErrorCategory.RATE_LIMIT
    if status in (401, 403):
        return ErrorCategory.AUTHENTICATION
    if status >= 500 or status in (408, 409, 423):
        return ErrorCategory.TRANSIENT
    if status == 404:
        return ErrorCategory.CONFIGURATION
    return ErrorCategory.DATA


def redact(text, secrets):
    """Return ``text`` with every non-empty secret replaced by ``***``."""
    text = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    # Authorization headers that slipped into a message, whatever the scheme.
    return re.sub(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}]+", r"\1***", text)
