"""`pip wheel .` builds odoo-addon-esp_sync with the manifest's metadata."""

import ast
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_metadata_and_files(tmp_path):
    version = ast.literal_eval((ROOT / "__manifest__.py").read_text())["version"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"odoo_addon_esp_sync-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = Parser().parsestr(
            archive.read(f"odoo_addon_esp_sync-{version}.dist-info/METADATA").decode()
        )
    assert meta["Name"] == "odoo-addon-esp_sync"
    assert meta["Version"] == version
    requires = sorted(meta.get_all("Requires-Dist"))
    assert requires == [
        "cryptography",
        "odoo-addon-queue_job==18.0.*",
        "odoo==18.0.*",
        "pydantic",
        "requests",
    ]
    addon = "odoo/addons/esp_sync/"
    assert addon + "__manifest__.py" in names
    assert addon + "models/__init__.py" in names
    assert addon + "static/description/index.html" in names
    for dev_only in (".ci/", "tools/", "benchmarks/", ".ruff.toml", "pyproject.toml"):
        assert not any(n.startswith(addon + dev_only) for n in names), dev_only
