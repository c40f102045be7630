"""PEP 517 backend: OCA's whool, minus the development files of this repository.

The repository root is the addon itself, so ``git ls-files`` (what whool ships)
also lists CI, lint and benchmark files that an installed addon has no use for.
This wrapper filters them out with the prefixes of ``[tool.esp_sync.wheel]
exclude`` in ``pyproject.toml``. whool also names the addon after its folder, and
a clone or worktree may have any name: the metadata is read through a link named
``addon_name``. Everything else, metadata included, is whool's.
"""

import tempfile
from pathlib import Path

from whool import buildapi
from whool.buildapi import (  # noqa: F401 (the PEP 517 hooks we re-export)
    build_editable,
    build_sdist,
    build_wheel,
    prepare_metadata_for_build_wheel,
)
from whool.utils import load_pyproject_toml

_scm_ls_files = buildapi._scm_ls_files
_get_metadata = buildapi._get_metadata


def _config(addon_dir):
    tool = load_pyproject_toml(Path(addon_dir)).get("tool", {})
    return tool.get("esp_sync", {}).get("wheel", {})


def excluded(addon_dir):
    """The path prefixes that stay out of the wheel and the sdist."""
    return tuple(_config(addon_dir).get("exclude", ()))


def _named_metadata(addon_dir):
    name = _config(addon_dir).get("addon_name")
    if not name or Path(addon_dir).name == name:
        return _get_metadata(addon_dir)
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / name
        link.symlink_to(Path(addon_dir).resolve(), target_is_directory=True)
        return _get_metadata(link)


def _shipped_files(addon_dir):
    prefixes = excluded(addon_dir)
    return [f for f in _scm_ls_files(addon_dir) if f and not f.startswith(prefixes)]


buildapi._scm_ls_files = _shipped_files
buildapi._get_metadata = _named_metadata
