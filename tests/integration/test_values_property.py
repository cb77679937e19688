"""Property tests of how values reach a shell: for any value, ``printf '%s' "${V}"`` prints
exactly the value, in every quoting the author may use, and nothing in it ever runs.

The rewritten text runs in a real ``sh`` (and, through the engine, as a real step)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

import plait
from plait.expr import resolve_reference, to_shell
from plait.proc.values import deliver

# Text rich in what shells care about, plus any other (NUL-free) character.
SHELLISH = st.sampled_from([*"$`'\"\\(){}[];&|<>*?~#!%=\n\t ", "$(", "${", "EOF"])
VALUES = st.lists(
    st.one_of(SHELLISH, st.text(st.characters(blacklist_characters="\0", codec="utf-8"))),
    max_size=40,
).map("".join)

FIXTURE = [HealthCheck.function_scoped_fixture]

TEMPLATES = {
    "double": "printf '%s' \"${V}\"",
    "bare-double": "printf '%s' \"$V\"",
    "single": "printf '%s' '${V}'",
    "prefix-single": "printf '%s' 'pre-${V}-post'",
    "in-substitution": "printf '%s' \"$(printf '%s' \"${V}\")\"",
    "heredoc": "cat <<EOF\n${V}\nEOF",
    "param-default": "printf '%s' \"${UNSET_NAME:-${V}}\"",
}
EXPECTED_SUFFIX = {"heredoc": "\n"}
EXPECTED_AROUND = {"prefix-single": ("pre-", "-post")}


def _run_shell(template: str, value: str, cwd: Path) -> str:
    variables = {"V": value}
    text = to_shell(template, lambda match: resolve_reference(match, variables, {}))
    delivery = deliver(text, {"PATH": os.environ["PATH"]}, str(cwd))
    try:
        done = subprocess.run(
            ["sh", "-c", delivery.text], env=delivery.env, cwd=cwd, capture_output=True, check=False
        )
    finally:
        delivery.close()
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8", "surrogateescape")


@seed(20261201)
@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(value=VALUES)
@example(value="$(touch ran)`touch ran`'; touch ran; '\"; touch ran; \"")
@example(value="a\nEOF\ntouch ran\n")
@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_any_value_prints_exactly_and_never_runs(kind: str, value: str, tmp_path: Path) -> None:
    if kind == "heredoc" and "\r" in value:
        value = value.replace("\r", "")  # some shells drop a CR before a here-doc's newline
    printed = _run_shell(TEMPLATES[kind], value, tmp_path)
    before, after = EXPECTED_AROUND.get(kind, ("", ""))
    if kind == "in-substitution":
        value = value.rstrip("\n")  # what $(...) does to any output
    assert printed == before + value + after + EXPECTED_SUFFIX.get(kind, "")
    assert not (tmp_path / "ran").exists()


@seed(20261201)
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(value=VALUES)
def test_unquoted_value_is_only_split_into_words(value: str, tmp_path: Path) -> None:
    printed = _run_shell("set -f; printf '<%s>' ${V}", value, tmp_path)
    words = _ifs_split(value)
    assert printed == ("".join(f"<{w}>" for w in words) if words else "<>")
    assert not (tmp_path / "ran").exists()


def _ifs_split(value: str) -> list[str]:
    """Words as the shell's default IFS (space, tab, newline) splits them."""
    return [w for w in value.replace("\n", " ").replace("\t", " ").split(" ") if w]


def test_one_megabyte_value_prints_exactly(tmp_path: Path) -> None:
    value = ("$(touch ran)'\"`\\\n" * 70_000)[: 1024 * 1024]
    assert _run_shell("printf '%s' \"${V}\"", value, tmp_path) == value
    assert not (tmp_path / "ran").exists()


@seed(20261201)
@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE)
@given(value=VALUES)
def test_a_real_step_prints_any_param_exactly(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.txt"
    record = plait.run(
        "name: p\nparams:\n  - V: ''\nsteps:\n"
        f"  - name: s\n    command: printf '%s' \"${{V}}\" > {out}\n",
        params={"V": value},
    )
    assert str(record.status) == "succeeded"
    assert out.read_bytes().decode("utf-8", "surrogateescape") == value
    assert not (tmp_path / "ran").exists()
