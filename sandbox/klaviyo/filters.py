"""Klaviyo's ``filter`` query syntax: parse it and test resources against it.

``equals(email,'a@b.c')``, ``any(id,['x','y'])``,
``greater-than(updated,2024-01-01T00:00:00Z)``, several conditions joined by
commas or wrapped in ``and(...)``. Each endpoint declares the fields and
operators it allows; anything else is a 400 naming the ``filter`` parameter.
"""

import re

from ..core import parse_iso


class FilterError(ValueError):
    """The filter text is malformed or uses an unsupported field/operator."""


_CONDITION = re.compile(r"^\s*([a-z-]+)\((.*)\)\s*$", re.S)


def parse(text, allowed):
    """Return ``[(operator, field, value)]``; ``allowed`` maps field -> ops."""
    if not text:
        return []
    text = text.strip()
    conditions = []
    for part in _split(text):
        found = _CONDITION.match(part)
        if not found:
            raise FilterError(f"Invalid filter expression: {part!r}")
        operator, inner = found.groups()
        if operator == "and":
            conditions.extend(parse(inner, allowed))
            continue
        args = _split(inner)
        if len(args) != 2:
            raise FilterError(f"{operator} takes a field and a value: {part!r}")
        field, raw = args[0].strip(), args[1].strip()
        if field not in allowed:
            raise FilterError(f"'{field}' is not a valid field for this filter")
        if operator not in allowed[field]:
            raise FilterError(
                f"'{operator}' is not a valid operator for '{field}'; "
                f"use one of {', '.join(allowed[field])}"
            )
        conditions.append((operator, field, _value(raw)))
    return conditions


def matches(conditions, lookup):
    """True when ``lookup(field)`` (a value or list of values) meets all."""
    return all(_test(op, lookup(field), value) for op, field, value in conditions)


def to_epoch(value):
    """Seconds since the epoch from an ISO date/datetime string (or number)."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return parse_iso(text).timestamp()
    except ValueError as exc:
        raise FilterError(f"Invalid datetime: {text!r}") from exc


def _split(text):
    """Split on commas that are outside quotes, brackets and parentheses."""
    parts, depth, quote, start = [], 0, None, 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if quote or depth:
        raise FilterError(f"Unbalanced filter expression: {text!r}")
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def _value(raw):
    if raw.startswith("[") and raw.endswith("]"):
        return [_value(item.strip()) for item in _split(raw[1:-1])]
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}", raw):
        return _Date(raw)
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError as exc:
        raise FilterError(f"Invalid filter value: {raw!r}") from exc


class _Date(str):
    """A datetime literal (compared as a timestamp)."""


_ORDER = {
    "greater-than": lambda a, b: a > b,
    "greater-or-equal": lambda a, b: a >= b,
    "less-than": lambda a, b: a < b,
    "less-or-equal": lambda a, b: a <= b,
}


def _test(operator, actual, expected):
    values = actual if isinstance(actual, list) else [actual]
    if operator == "equals":
        return any(_eq(v, expected) for v in values)
    if operator == "any":
        options = expected if isinstance(expected, list) else [expected]
        return any(_eq(v, option) for v in values for option in options)
    if operator == "contains":
        return any(v is not None and str(expected) in str(v) for v in values)
    if operator == "has":
        return any(v for v in values)
    if operator in _ORDER:
        bound = to_epoch(expected) if isinstance(expected, _Date) else expected
        return any(
            v is not None and _ORDER[operator](_comparable(v, bound), bound)
            for v in values
        )
    raise FilterError(f"Unsupported operator {operator!r}")


def _comparable(value, bound):
    if isinstance(bound, float | int) and isinstance(value, str):
        return to_epoch(value)
    return value


def _eq(value, expected):
    if isinstance(value, str) and isinstance(expected, str):
        return value == expected
    return value == expected
