"""``pip wheel .`` from a checkout: the wheel carries the built web UI; without Node.js the
build stops saying why, and with ``PLAIT_BUILD_WITHOUT_UI=1`` makes a wheel without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _wheel(
    source: Path, out: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    wheels = list(out.glob("plait-*.whl"))
    names = zipfile.ZipFile(wheels[0]).namelist() if wheels else []
    return done, names


def test_the_wheel_carries_the_built_web_ui(tmp_path: Path) -> None:
    done, names = _wheel(ROOT, tmp_path, dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "plait/api/static/index.html" in names
    assert any(n.startswith("plait/api/static/assets/") and n.endswith(".js") for n in names)


def test_without_node_the_build_stops_saying_why_unless_asked_to_go_on(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "build_backend", checkout / "build_backend")
    shutil.copytree(
        ROOT / "src",
        checkout / "src",
        ignore=shutil.ignore_patterns("static", "__pycache__", "*.egg-info"),
    )
    shutil.copytree(ROOT / "ui", checkout / "ui", ignore=shutil.ignore_patterns("node_modules"))
    bare = tmp_path / "bin"  # a PATH with python and no node or npm
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{bare}:/usr/bin:/bin"}
    if shutil.which("npm", path=env["PATH"]) is not None:
        env["PATH"] = str(bare)
    done, names = _wheel(checkout, tmp_path / "out", env)
    assert done.returncode != 0 and not names
    said = done.stdout + done.stderr
    assert "npm (Node.js 20+) is not installed, so the web UI cannot be built" in said, said
    done, names = _wheel(checkout, tmp_path / "out", {**env, "PLAIT_BUILD_WITHOUT_UI": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "plait/api/static.py" in names
    assert "plait/api/static/index.html" not in names
