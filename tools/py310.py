"""Find names that exist only from Python 3.11 on (Odoo 18 also runs on 3.10)."""

import ast
from pathlib import Path

# module -> names it gained in 3.11
NEW_NAMES = {
    "datetime": {"UTC"},
    "enum": {"StrEnum", "ReprEnum", "verify", "EnumCheck", "global_enum"},
    "typing": {"Self", "LiteralString", "Never", "assert_never", "reveal_type"},
    "asyncio": {"TaskGroup", "timeout", "Runner"},
}
NEW_MODULES = {"tomllib", "wsgiref.types"}
NEW_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}
SKIP_DIRS = {".venv", ".git", "__pycache__", ".esp_sync_run"}


def scan_source(source, filename="<source>"):
    """``(line, message)`` for each 3.11-only name used in ``source``."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in NEW_MODULES or alias.name.split(".")[0] in NEW_MODULES:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            if module in NEW_MODULES or module.split(".")[0] in NEW_MODULES:
                found.append((node.lineno, f"from {module} import ..."))
            for alias in node.names:
                if alias.name in NEW_NAMES.get(module, ()):
                    found.append((node.lineno, f"from {module} import {alias.name}"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in NEW_NAMES.get(node.value.id, ()):
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in NEW_BUILTINS:
            found.append((node.lineno, node.id))
        elif type(node).__name__ == "TryStar":
            found.append((node.lineno, "except*"))
    return sorted(set(found))


def python_files(root):
    root = Path(root)
    for path in sorted(root.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path
    for script in ("tools/test", "tools/run"):
        if (root / script).exists():
            yield root / script


def check(root):
    """Print each 3.11-only use under ``root``; return how many were found."""
    count = 0
    for path in python_files(root):
        for line, what in scan_source(path.read_text(), str(path)):
            print(f"{path.relative_to(root)}:{line}: {what} needs Python 3.11")
            count += 1
    return count
