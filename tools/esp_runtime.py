"""Find the Odoo 18 runtime beside the project, and what it needs to run.

Shared by ``tools/test`` and ``tools/run``. Nothing here installs Odoo.
"""

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import odoo.release as r; assert r.version_info[0] == 18; print(r.version)"


def say(message):
    print(f"\n=== {message}", flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=False, **kwargs)


def specs_env():
    """Point the sandbox at the vendors' specs beside the checkout."""
    specs = ROOT.parent / "shared" / "specs"
    if specs.is_dir():
        os.environ.setdefault("ESP_SYNC_SPECS_DIR", str(specs))


def find_odoo_python():
    """Return (python, odoo-bin launcher args, source dir) or None."""
    candidates = [os.environ.get("ODOO_PYTHON")]
    command = shutil.which("odoo")
    if command:
        with open(command, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
        if first.startswith("#!"):
            candidates.append(first[2:].split()[0])
    candidates += ["python3", *sorted(glob.glob("/opt/odoo*/venv/bin/python"))]
    for python in filter(None, candidates):
        probe = run(
            [
                python,
                "-c",
                PROBE + "; import odoo, os; print(os.path.dirname("
                "os.path.dirname(odoo.__file__)))",
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            version, source = probe.stdout.split()[:2]
            return python, version, Path(source)
    return None


def ensure_postgres():
    """Start a stopped local PostgreSQL and make sure we have a role."""
    if run(["pg_isready", "-q"]).returncode != 0:
        clusters = run(["pg_lsclusters", "-h"], capture_output=True, text=True)
        for line in clusters.stdout.splitlines():
            version, name = line.split()[:2]
            say(f"Starting PostgreSQL cluster {version}/{name}")
            run(["pg_ctlcluster", version, name, "start"])
        for _i in range(30):
            if run(["pg_isready", "-q"]).returncode == 0:
                break
            time.sleep(1)
    if run(["pg_isready", "-q"]).returncode != 0:
        return False
    probe = run(["psql", "-d", "postgres", "-Atc", "select 1"], capture_output=True)
    if probe.returncode != 0 and os.geteuid() == 0:
        user = os.environ.get("USER") or "root"
        run(["su", "postgres", "-c", f"createuser -s {user}"])
        probe = run(["psql", "-d", "postgres", "-Atc", "select 1"], capture_output=True)
    return probe.returncode == 0


def ensure_runtime_deps(python):
    """Our own Python dependencies inside the Odoo runtime (never Odoo itself)."""
    check = "import requests, pydantic, jsonschema, responses"
    if run([python, "-c", check], capture_output=True).returncode:
        say("Installing esp_sync's Python dependencies into the Odoo runtime")
        run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(ROOT / "requirements.txt"),
                "responses",
            ]
        )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
