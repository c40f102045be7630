"""Mobile numbers in E.164, from what a person typed and their country.

SMS consent is keyed by the number: Klaviyo and Dotdigital both want E.164
(``+`` country code and subscriber number, at most 15 digits). A typed
number is accepted as ``+CC…``, ``00CC…`` or a national number whose trunk
``0`` is dropped for the country's calling code; spaces, dots, dashes,
slashes and brackets are ignored. Anything else is refused with a reason a
marketer can act on (no guessing: a wrong number is someone else's phone).
"""

import dataclasses
import re

MAX_DIGITS = 15  # E.164
MIN_DIGITS = 8  # country code + the shortest subscriber numbers in use
_SEPARATORS = re.compile(r"[\s.\-/()\[\]]")
_INTERNATIONAL = re.compile(r"^\s*(\+|00)")


class PhoneError(ValueError):
    """A number that cannot be read as E.164; ``reason`` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class MobileNumber:
    """A number in E.164: ``e164`` is ``+3247…``, ``digits`` without ``+``."""

    e164: str

    @property
    def digits(self):
        return self.e164[1:]


def normalise_mobile(typed, calling_code=None):
    """``typed`` as a :class:`MobileNumber`; raise :class:`PhoneError`.

    ``calling_code``: the country's calling code (Odoo's
    ``res.country.phone_code``, e.g. ``32``), needed for national numbers.
    """
    typed = typed or ""
    if _INTERNATIONAL.match(typed):
        # "+44 (0)20 …": the bracketed trunk 0 is not dialled from abroad.
        typed_digits = typed.replace("(0)", "", 1)
    else:
        typed_digits = typed
    raw = _SEPARATORS.sub("", typed_digits)
    if not raw:
        raise PhoneError("no mobile number")
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("00"):
        digits = raw[2:]
    else:
        digits = None
    body = digits if digits is not None else raw
    if not body.isdigit() or not body.isascii():
        raise PhoneError(f"'{typed}' contains characters other than digits")
    if digits is None:
        code = str(calling_code or "").strip().lstrip("+")
        if not code.isdigit() or code.startswith("0"):
            raise PhoneError(
                f"'{typed}' has no country code and the partner's country " "gives none"
            )
        digits = code + (raw[1:] if raw.startswith("0") else raw)
    if digits.startswith("0"):
        raise PhoneError(f"'{typed}' has no valid country code")
    if len(digits) < MIN_DIGITS:
        raise PhoneError(f"'{typed}' is too short for a mobile number")
    if len(digits) > MAX_DIGITS:
        raise PhoneError(
            f"'{typed}' is too long (E.164 allows {MAX_DIGITS} digits at most)"
        )
    return MobileNumber(e164="+" + digits)
