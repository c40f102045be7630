"""is_usable_email judges the address as typed: nothing is rewritten first."""

import pytest

from providers.base import is_usable_email

REFUSED = [
    "a b@c.com",
    "a@b@c.com",
    "a,b@c.com",
    "mailto:user@example.com",
    "user@example.com<script>",
    "user@exa mple.com",
    "Ann <ann@example.com>",
    "foo@bar..com",
    "user@-bad-.com",
    "user@[127.0.0.1]",
    "ann@@example",
    ".ann@example.com",
    "ann..b@example.com",
    "ann@example.c",
    "ann@example.c0m",
    "ann@b_c.com",
    '"ann"@example.com',
    "ann@example.com ",
    "ann@example.com\n",
    "a" * 65 + "@example.com",
    "",
    None,
]
ACCEPTED = [
    "ann@example.com",
    "user+tag@example.com",
    "o'brien@example.com",
    "zoë@example.com",
    "a_b@sub-x.example.co.uk",
    "ann@xn--bcher-kva.ch",
]


@pytest.mark.parametrize("email", REFUSED)
def test_refused(email):
    assert not is_usable_email(email)


@pytest.mark.parametrize("email", ACCEPTED)
def test_accepted(email):
    assert is_usable_email(email)
