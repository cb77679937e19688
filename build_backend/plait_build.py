"""The build backend of plait: setuptools', with the web UI built into the package first.

``pip install .`` (or ``pip wheel .``) from a checkout builds ``ui/`` with npm into
``src/plait/api/static/`` when it is missing or older than the UI's sources, so an installed
plait serves its UI. Without Node.js (npm) the build stops and says why, so that no plait is
installed without its UI by surprise; ``PLAIT_BUILD_WITHOUT_UI=1`` builds one anyway (its server
shows a page saying that the UI is not built).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (every hook this module does not change)

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "ui"
STATIC = ROOT / "src" / "plait" / "api" / "static"
SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts")


def _say(message: str) -> None:
    print(f"plait build: {message}", file=sys.stderr, flush=True)


def _stale() -> bool:
    """Whether the built UI is missing, or older than one of the UI's sources."""
    built = STATIC / "index.html"
    if not built.is_file():
        return True
    when = built.stat().st_mtime
    for name in SOURCES:
        path = UI / name
        paths = path.rglob("*") if path.is_dir() else [path]
        if any(p.is_file() and p.stat().st_mtime > when for p in paths):
            return True
    return False


def build_ui() -> bool:
    """Build the UI when it needs it and npm is there; True when the package carries one."""
    if not UI.is_dir() or not _stale():
        return (STATIC / "index.html").is_file()
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("PLAIT_BUILD_WITHOUT_UI"):
            _say("npm is not installed: building without the web UI (PLAIT_BUILD_WITHOUT_UI)")
            return False
        raise SystemExit(
            "plait build: npm (Node.js 20+) is not installed, so the web UI cannot be built. "
            "Install Node.js and build again, or set PLAIT_BUILD_WITHOUT_UI=1 to build a plait "
            "whose server says that its UI is not built."
        )
    env = {**os.environ, "npm_config_fund": "false", "npm_config_audit": "false"}
    install = "ci" if (UI / "package-lock.json").is_file() else "install"
    try:
        if not (UI / "node_modules" / ".package-lock.json").is_file():
            subprocess.run([npm, install, "--loglevel=error"], cwd=UI, env=env, check=True)
        subprocess.run([npm, "run", "--silent", "build"], cwd=UI, env=env, check=True)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"plait build: the web UI did not build (npm exited {error.returncode})")
    _say("built the web UI into src/plait/api/static/")
    return True


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    build_ui()
    return str(_setuptools.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    build_ui()
    return str(_setuptools.build_editable(wheel_directory, config_settings, metadata_directory))
