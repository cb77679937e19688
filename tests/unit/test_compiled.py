"""The cache of compiled workflow files (``plait.spec.compiled``): a file loaded again
unchanged is read back without YAML, a changed file is compiled again, a file with problems is
never kept, and a cache folder another user could write to is not used."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.errors import SpecError
from plait.spec import compiled, load_file

FLOW = "name: cached\nsteps:\n  - name: one\n    command: echo {word}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "cache"
    compiled.use_folder(where)
    yield where
    compiled.use_folder(None)


def test_an_unchanged_file_is_read_back_and_a_changed_one_compiled_again(
    folder: Path, tmp_path: Path
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.format(word="first"))
    assert load_file(path).steps[0].command == "echo first"
    (entry,) = folder.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert load_file(path).steps[0].command == "echo first"
    path.write_text(FLOW.format(word="second"))
    assert load_file(path).steps[0].command == "echo second"
    assert len(list(folder.iterdir())) == 2


def test_a_file_with_problems_is_never_kept(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - name: one\n    comand: echo\n")
    for _ in range(2):
        with pytest.raises(SpecError) as raised:
            load_file(path)
        assert raised.value.problems[0].line == 3  # found again, with its line
    assert list(folder.iterdir()) == []


def test_a_torn_entry_is_compiled_again(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.format(word="x"))
    load_file(path)
    (entry,) = folder.iterdir()
    entry.write_bytes(b"\x80\x05not a pickle")
    assert load_file(path).steps[0].command == "echo x"


def test_a_folder_others_can_write_to_is_not_used(tmp_path: Path) -> None:
    where = tmp_path / "open"
    where.mkdir()
    os.chmod(where, 0o777)
    compiled.use_folder(where)
    try:
        path = tmp_path / "flow.yaml"
        path.write_text(FLOW.format(word="x"))
        load_file(path)
        assert list(where.iterdir()) == []
    finally:
        compiled.use_folder(None)


def test_a_second_start_of_an_unchanged_file_imports_no_yaml(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.format(word="hi"))
    probe = (
        "import sys\n"
        "from plait.cli.main import main\n"
        f"code = main(['start', '-q', {str(path)!r}])\n"
        "print(code, 'yaml' in sys.modules, 'croniter' in sys.modules)\n"
    )
    env = {**os.environ, "PLAIT_HOME": str(tmp_path / "home")}
    said = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        said.append(done.stdout.split()[-3:])
    assert said == [["0", "True", "False"], ["0", "False", "False"]]


def test_unused_entries_are_looked_for_once_a_day_at_most(folder: Path, tmp_path: Path) -> None:
    old = folder / "old-entry.pickle"
    old.write_bytes(b"x")
    stale = os.stat(old).st_mtime - compiled.KEEP_UNUSED_SECONDS - 60
    os.utime(old, (stale, stale))
    first = tmp_path / "first.yaml"
    first.write_text(FLOW.format(word="first"))
    load_file(first)  # the first write of the process looks, and says when
    assert not old.exists()
    mark = Path(str(folder) + ".pruned")
    assert mark.is_file()
    old.write_bytes(b"x")
    os.utime(old, (stale, stale))
    compiled.use_folder(folder)  # another process, within the day: no look
    second = tmp_path / "second.yaml"
    second.write_text(FLOW.format(word="second"))
    load_file(second)
    assert old.exists()
    day_ago = mark.stat().st_mtime - compiled.PRUNE_EVERY_SECONDS - 60
    os.utime(mark, (day_ago, day_ago))
    compiled.use_folder(folder)  # a day later
    third = tmp_path / "third.yaml"
    third.write_text(FLOW.format(word="third"))
    load_file(third)
    assert not old.exists()
