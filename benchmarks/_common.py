"""Shared helpers of the benchmarks: databases, the sandbox, in-process Odoo.

The scripts run with any ``python3``: :func:`reexec_in_odoo` restarts them
under the Odoo 18 runtime that ``tools/esp_runtime`` finds. Databases are
copied from two cached templates (with esp_sync and demo data, and without
esp_sync but with the same modules underneath), so each run starts clean.
The templates are a cache: drop them after changing esp_sync's models, data or
indexes. Nothing here installs Odoo.
"""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import esp_runtime  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import servers  # noqa: E402

BASE_MODULES = "sale_stock,account,mail,queue_job"
TEMPLATES = {"with": "espbench_tpl_with", "base": "espbench_tpl_base"}
WORK = Path(tempfile.gettempdir()) / "espbench"
# The channels tools/run (and the soak's servers.py) give the runner.
CHANNELS = "root:6,root.esp_sync.urgent:3,root.esp_sync.bulk:3"
# Further addons directories (the naive connector generates one at run time).
EXTRA_ADDONS = []


def say(message):
    print(f"=== {message}", flush=True)


# ------------------------------------------------------------------ runtime
def reexec_in_odoo():
    """Run the calling script under the Odoo runtime's python (once)."""
    try:
        import odoo.release  # noqa: F401

        return
    except ImportError:
        pass
    runtime = esp_runtime.find_odoo_python()
    if not runtime:
        sys.exit("No Odoo 18 runtime found (see DEVELOPERS.md).")
    os.execv(runtime[0], [runtime[0], *sys.argv])


def parse_options(doc, **defaults):
    """Parse ``--name value`` options whose types follow their defaults."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        option = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(option, action="store_true", default=default)
        else:
            parser.add_argument(option, type=type(default), default=default)
    return parser.parse_args()


def start(title):
    """Under the Odoo runtime, with the templates built and Odoo configured."""
    reexec_in_odoo()
    ensure_templates()
    init_config(with_esp=True)
    say(f"{title}; {machine()}")


def odoo_source():
    import odoo

    return Path(odoo.__file__).resolve().parent.parent


def addons_path(with_esp=True):
    """An addons path where esp_sync is this checkout (a symlink in /tmp)."""
    paths = [*EXTRA_ADDONS, str(odoo_source() / "addons")]
    if with_esp:
        link_dir = WORK / "addons"
        link_dir.mkdir(parents=True, exist_ok=True)
        link = link_dir / "esp_sync"
        if link.is_symlink() and link.resolve() != ROOT:
            link.unlink()
        if not link.exists():
            link.symlink_to(ROOT)
        paths.insert(0, str(link_dir))
    return ",".join(paths)


def odoo_cmd(db, with_esp=True, *extra):
    return [
        sys.executable,
        "-m",
        "odoo",
        "-d",
        db,
        "--addons-path",
        addons_path(with_esp),
        "--db-filter",
        f"^{db}$",
        *extra,
    ]


# ---------------------------------------------------------------- databases
def psql(sql, db="postgres"):
    out = subprocess.run(
        ["psql", "-d", db, "-Atc", sql], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def database_exists(name):
    return name in psql("SELECT datname FROM pg_database").split()


def find_specs():
    """Point the sandbox at the vendors' specs: beside the checkout, or beside
    the folder of worktrees a checkout may sit in (``/work/wt/<name>``)."""
    for folder in ROOT.parents:
        specs = folder / "shared" / "specs"
        if specs.is_dir():
            os.environ.setdefault("ESP_SYNC_SPECS_DIR", str(specs))
            return
    esp_runtime.specs_env()


def ensure_templates():
    """Build the two template databases once (a minute or two each)."""
    if not esp_runtime.ensure_postgres():
        sys.exit("PostgreSQL is not reachable.")
    find_specs()
    for kind, name in TEMPLATES.items():
        if database_exists(name):
            continue
        modules = "esp_sync" if kind == "with" else BASE_MODULES
        say(f"Building template {name} ({modules}, demo data)")
        cmd = odoo_cmd(name, kind == "with", "-i", modules, "--stop-after-init")
        subprocess.run([*cmd, "--log-level=warn"], check=True)


def dbname(base):
    """A database name of this process: runs side by side never share one."""
    return f"{base}_{os.getpid()}"


def copy_database(kind, name):
    """A throwaway copy of a template (``kind``: with / base, or a database
    name), with the
    template's credential key (esp_sync keeps it outside the database)."""
    template = TEMPLATES.get(kind, kind)
    drop_database(name)
    subprocess.run(["createdb", "-T", template, name], check=True)
    template_key = key_file(template)
    if template_key.is_file():
        key_file(name).write_text(template_key.read_text())
        key_file(name).chmod(0o600)
    return name


def drop_database(name):
    subprocess.run(
        ["dropdb", "--if-exists", "--force", name],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    if not name.startswith("espbench_tpl_"):
        key_file(name).unlink(missing_ok=True)


def key_file(db):
    """esp_sync's credential key file of ``db`` (see models/esp_secret.py)."""
    from odoo.tools import config

    return Path(config["data_dir"]) / "esp_sync" / f"{db}.key"


def init_config(with_esp=True, **options):
    """Configure Odoo in this process (no server), as ``tools/run`` would."""
    from odoo.tools import config

    args = ["--addons-path", addons_path(with_esp), "--log-level=warn"]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    config.parse_config(args)


@contextlib.contextmanager
def registry_env(db, uid=None):
    """``(env, cr)`` on ``db`` in this process; the caller commits."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    registry = Registry(db)
    with registry.cursor() as cr:
        yield api.Environment(cr, uid or SUPERUSER_ID, {})


def release(db):
    """Close the registry and its connections (before dropping ``db``)."""
    import odoo.sql_db
    from odoo.modules.registry import Registry

    Registry.delete(db)
    odoo.sql_db.close_db(db)


# ------------------------------------------------------------------ counting
class QueryCounter:
    """Every SQL statement of the process, whatever the cursor.

    Odoo's global ``sql_counter`` counts ``cr.execute``; esp_sync's ledger
    INSERT goes through ``psycopg2.extras.execute_values`` on the raw cursor,
    counted here by wrapping the name the ledger model imported.
    """

    extra = 0

    def __init__(self):
        self._patched = False
        try:
            from odoo.addons.esp_sync.models import esp_sync_event
        except ImportError:
            return
        original = esp_sync_event.execute_values

        def counting(*args, **kwargs):
            QueryCounter.extra += 1
            return original(*args, **kwargs)

        if not getattr(original, "_espbench", False):
            counting._espbench = True
            esp_sync_event.execute_values = counting

    @staticmethod
    def now():
        import odoo.sql_db

        return odoo.sql_db.sql_counter + QueryCounter.extra


def count_jobs(cr):
    cr.execute("SELECT count(*) FROM queue_job")
    return cr.fetchone()[0]


# ------------------------------------------------------------------- figures
def summary(values):
    return min(values), statistics.median(values)


def fmt_pair(values, unit="s"):
    low, mid = summary(values)
    return f"min {low:.3f}{unit} median {mid:.3f}{unit}"


def machine():
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def print_table(headers, rows):
    widths = [
        max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)
    ]
    line = " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def verdict(misses, success):
    """Print each missed target (or ``success``); the script's exit status."""
    print()
    for miss in misses:
        print(f"MISS {miss}")
    if not misses:
        print(success)
    return 1 if misses else 0


# -------------------------------------------------------------------- server
# Starting, waiting for and stopping processes, and RPC, are ``servers.py``'s
# (shared with the soak); these wrappers keep the scripts' short calls.
def start_server(db, port, channels=CHANNELS):
    """Odoo as ``tools/run`` starts it: queue_job server-wide, its runner on."""
    env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=channels)
    log = open(WORK / f"odoo-{port}.log", "w")
    cmd = odoo_cmd(
        db,
        True,
        "--load",
        "base,web,queue_job",
        "--workers",
        "0",
        "--http-port",
        str(port),
        "--log-level",
        "warn",
    )
    process = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    if not servers.wait_for(f"http://127.0.0.1:{port}/web/health", 90):
        stop_process(process, log)
        raise RuntimeError("Odoo did not start")
    return process, log


def stop_process(process, log):
    servers.stop(process)
    log.close()


def rpc(port, db, login="admin", password="admin"):
    """``call(model, method, *args)`` as ``login`` (``servers.Rpc``)."""
    return servers.Rpc(port, db, login, password)


# ------------------------------------------------------------------- sandbox
class Sandbox:
    """The ESP emulator in a subprocess, with its inspection API."""

    def __init__(self, port=None, rate_limits=False, validate=True, rate_scale=1.0):
        self.port = port or esp_runtime.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "sandbox", "--port", str(self.port)]
        if not rate_limits:
            cmd.append("--no-rate-limits")
        elif rate_scale != 1.0:
            cmd += ["--rate-limit-scale", str(rate_scale)]
        if not validate:
            cmd.append("--no-validate")
        find_specs()
        self.log = open(WORK / f"sandbox-{self.port}.log", "w")
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not servers.wait_for(f"{self.url}/_sandbox/health", 30):
            self.stop()
            raise RuntimeError("The sandbox did not start")

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def requests(self, provider=None, since=0):
        """Logged requests, of ``provider`` and after the id ``since``."""
        query = f"?since={int(since)}" + (f"&provider={provider}" if provider else "")
        return self.api("GET", f"requests{query}")

    def clear(self):
        self.api("DELETE", "requests")

    def stop(self):
        servers.stop(self.process, timeout=10)
        self.log.close()


def point_backends(env, sandbox):
    """Aim the demo backends at this sandbox."""
    for backend in env["esp.backend"].search([]):
        path = backend.base_url.rstrip("/").rsplit("/", 1)[-1]
        backend.base_url = f"{sandbox.url}/{path}"
