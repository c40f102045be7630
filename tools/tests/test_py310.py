import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import py310


def found(source):
    return [what for _line, what in py310.scan_source(source)]


def test_flags_every_311_only_name():
    source = """
import datetime, tomllib, enum, typing, asyncio
from datetime import UTC
from enum import StrEnum
from typing import Self
from tomllib import loads
a = datetime.UTC
b = enum.StrEnum
c = typing.Self
d = asyncio.TaskGroup
e = ExceptionGroup
try:
    pass
except* ValueError:
    pass
"""
    assert found(source) == [
        "import tomllib",
        "from datetime import UTC",
        "from enum import StrEnum",
        "from typing import Self",
        "from tomllib import ...",
        "datetime.UTC",
        "enum.StrEnum",
        "typing.Self",
        "asyncio.TaskGroup",
        "ExceptionGroup",
        "except*",
    ]


def test_leaves_310_code_alone():
    source = """
import datetime
from datetime import timezone
a = datetime.timezone.utc
b = datetime.datetime.now(timezone.utc)
c = "UTC"
d = {"timezone": "UTC"}
from .datetime import UTC
"""
    assert found(source) == []


def test_reports_paths_and_lines(tmp_path, capsys):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("import datetime\n\nx = datetime.UTC\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "lib.py").write_text("import tomllib\n")
    assert py310.check(tmp_path) == 1
    assert "pkg/mod.py:3: datetime.UTC needs Python 3.11" in capsys.readouterr().out
