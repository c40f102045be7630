"""Odoo 18 supports Python 3.10: no 3.11-only names in the Odoo-free packages.

ruff's ``target-version = "py310"`` does not flag these, so this test does.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("providers", "sandbox")
# module -> names it gained in Python 3.11
NEWER = {
    "datetime": {"UTC"},
    "enum": {"StrEnum", "ReprEnum", "verify", "EnumCheck", "global_enum"},
    "typing": {"Self", "LiteralString", "Never", "assert_never", "reveal_type"},
    "asyncio": {"TaskGroup", "timeout", "Runner"},
}
NEWER_MODULES = {"tomllib", "wsgiref.types"}
NEWER_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}


def _sources():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _problems(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in NEWER_MODULES:
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.module in NEWER_MODULES:
                yield node.lineno, f"from {node.module} import"
            for alias in node.names:
                if alias.name in NEWER.get(node.module, ()):
                    yield node.lineno, f"from {node.module} import {alias.name}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in NEWER.get(node.value.id, ()):
                yield node.lineno, f"{node.value.id}.{node.attr}"
        elif isinstance(node, ast.Name) and node.id in NEWER_BUILTINS:
            yield node.lineno, node.id
        elif type(node).__name__ == "TryStar":
            yield node.lineno, "except*"


def test_no_python_311_only_names():
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        name = path.relative_to(ROOT)
        found += [f"{name}:{line}: {what}" for line, what in _problems(tree)]
    assert found == []


def test_the_check_finds_them():
    source = "import datetime, tomllib\nfrom typing import Self\nx = datetime.UTC\n"
    found = [what for _line, what in _problems(ast.parse(source))]
    assert found == ["import tomllib", "from typing import Self", "datetime.UTC"]
