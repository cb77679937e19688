"""Fixtures shared by every test: a fresh PLAIT_HOME and ways to call the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty PLAIT_HOME; the working directory is the test's tmp folder."""
    root = tmp_path / "home"
    monkeypatch.setenv("PLAIT_HOME", str(root))
    monkeypatch.delenv("PLAIT_DAGS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    yield root


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """write(name, yaml_text) -> Path: a dedented file in the test's tmp folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def cli(home: Path, capfd: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """cli(*args) -> Result: the real CLI, in this process."""

    def _cli(*args: str) -> Result:
        capfd.readouterr()
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        return Result(code, out, err)

    return _cli


@pytest.fixture
def plait_bin(home: Path):  # type: ignore[no-untyped-def]
    """plait_bin(*args, timeout=60) -> Result: the installed command, as a subprocess."""

    def _run(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "plait", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return _run
