"""normalise_mobile: typed numbers to E.164 with the partner's calling code."""

import pytest

from providers.phone import PhoneError, normalise_mobile

ACCEPTED = [
    ("+32 475 12 34 56", None, "+32475123456"),
    ("0032 475 12 34 56", "1", "+32475123456"),
    ("0475/12.34.56", "32", "+32475123456"),
    ("(0)475-12-34-56", 32, "+32475123456"),
    ("07700 900123", "44", "+447700900123"),
    ("7700 900123", "+44", "+447700900123"),
    ("+1 (415) 555-0100", "33", "+14155550100"),
    ("415 555 0100", "1", "+14155550100"),
    ("+[49] 151 2345 6789", None, "+4915123456789"),
    ("+32 (0)475 12 34 56", None, "+32475123456"),
    ("0044 (0)7700 900123", "32", "+447700900123"),
]

REFUSED = [
    ("", "32", "no mobile number"),
    ("   ", "32", "no mobile number"),
    ("call me", "32", "characters other than digits"),
    ("+32 475 12 34 5x", "32", "characters other than digits"),
    ("+32 ext 12", "32", "characters other than digits"),
    ("0475 12 34 56", None, "no country code"),
    ("0475 12 34 56", "", "no country code"),
    ("+0475123456", None, "no valid country code"),
    ("+32 475", None, "too short"),
    ("04751", "32", "too short"),
    ("+32 4751 2345 6789 01", None, "too long"),
    ("+٣٢٤٧٥١٢٣٤٥٦", None, "characters other than digits"),
    ("++32475123456", None, "characters other than digits"),
]


@pytest.mark.parametrize(("typed", "code", "expected"), ACCEPTED)
def test_accepted_numbers_become_e164(typed, code, expected):
    number = normalise_mobile(typed, code)
    assert number.e164 == expected
    assert number.digits == expected[1:]


@pytest.mark.parametrize(("typed", "code", "reason"), REFUSED)
def test_refused_numbers_say_why(typed, code, reason):
    with pytest.raises(PhoneError) as caught:
        normalise_mobile(typed, code)
    assert reason in caught.value.reason


def test_longest_e164_number_is_accepted():
    assert normalise_mobile("+" + "4" * 15).e164 == "+" + "4" * 15
