"""Run-time values are data: whichever way a value arrives (CLI, API, queue, parent, output,
item, child result, JSON path), a shell step receives its exact characters and nothing in it
runs. The author's own backticks and ``$(...)`` still do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import plait_server

# Each payload would create a file named after its kind if any shell ran it as code.
PAYLOADS = {
    "subst": "$(touch {dir}/subst)",
    "tick": "`touch {dir}/tick`",
    "semi": "x; touch {dir}/semi",
    "quote": "it's \"quoted\" $HOME 'x' `y` \\ \\n ${{PWD}} *",
    "newline": "a\n touch {dir}/newline\n",
}


def _payload(tmp_path: Path) -> str:
    """One value holding every trick at once."""
    return "|".join(text.format(dir=tmp_path) for text in PAYLOADS.values())


def _nothing_ran(tmp_path: Path) -> None:
    ran = [name for name in PAYLOADS if (tmp_path / name).exists()]
    assert not ran, f"a value ran as code: {ran}"


def _stdout(cli, run_target: str, step: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("logs", run_target, "--step", step)
    assert result.code == 0, result.err
    return str(result.out)


def _printed(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).read_text()


def test_cli_param_reaches_command_script_and_every_command_of_a_list_as_data(
    cli, write, tmp_path: Path
) -> None:
    value = _payload(tmp_path)
    write(
        "wf.yaml",
        f"""
        name: wf
        params:
          - V: default
        steps:
          - name: command
            command: printf '%s' "${{V}}" > {tmp_path}/command.txt
          - name: bare
            command: printf '%s' "$V" > {tmp_path}/bare.txt
          - name: list
            command:
              - printf '%s' "${{V}}" > {tmp_path}/list1.txt
              - printf '%s' "${{V}}" > {tmp_path}/list2.txt
          - name: script
            script: |
              printf '%s' "${{V}}" > {tmp_path}/script.txt
          - name: single-quoted
            command: printf '%s' '${{V}}' > {tmp_path}/single.txt
          - name: heredoc
            script: |
              cat > {tmp_path}/heredoc.txt <<EOF
              ${{V}}
              EOF
        """,
    )
    result = cli("start", "wf.yaml", "--", f"V={value}")
    assert result.code == 0, result.out + result.err
    for name in ("command", "bare", "list1", "list2", "script", "single"):
        assert _printed(tmp_path, f"{name}.txt") == value, name
    assert _printed(tmp_path, "heredoc.txt") == value + "\n"
    _nothing_ran(tmp_path)


def test_quoted_here_document_gets_the_value_pasted_but_never_its_end(
    cli, write, tmp_path: Path
) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        params:
          - V: ""
        steps:
          - name: doc
            script: |
              cat > {tmp_path}/doc.txt <<'EOF'
              [${{V}}]
              EOF
        """,
    )
    assert cli("start", "wf.yaml", "--", "V=$(not run) `x`").code == 0
    assert _printed(tmp_path, "doc.txt") == "[$(not run) `x`]\n"
    result = cli("start", "wf.yaml", "--", f"V=x\nEOF\ntouch {tmp_path}/subst\ncat <<'EOF'")
    assert result.code == 1
    record = json.loads(cli("status", "wf", "--json").out)
    assert "here-document" in record["steps"][0]["error"]
    _nothing_ran(tmp_path)


def test_unquoted_value_splits_into_words_and_nothing_more(cli, write, tmp_path: Path) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        steps:
          - name: words
            command: printf '<%s>' ${{V}} > {tmp_path}/words.txt
        """,
    )
    assert cli("start", "wf.yaml", "--", "V=a  b $(touch nope) c").code == 0
    assert _printed(tmp_path, "words.txt") == "<a><b><$(touch><nope)><c>"
    assert not (tmp_path / "nope").exists() and not (tmp_path / "nope)").exists()


def test_output_of_a_step_reaches_the_next_as_data_json_and_apostrophes_kept(
    cli, write, tmp_path: Path
) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        steps:
          - name: fetch
            command: |
              printf '%s' '{{"a": 1, "cmd": "$(touch {tmp_path}/subst)"}}'
            output: J
          - name: apostrophe
            command: |
              echo "it's"
            output: A
          - name: use
            command: |
              printf '%s' "${{J}}" > {tmp_path}/j.txt
              printf '%s' "${{A}}" > {tmp_path}/a.txt
              printf '%s' "${{J.cmd}}" > {tmp_path}/path.txt
              printf '%s' "${{fetch.output}}" > {tmp_path}/ref.txt
              echo --in='${{J}}' > {tmp_path}/single.txt
        """,
    )
    result = cli("start", "wf.yaml")
    assert result.code == 0, result.out + result.err
    document = f'{{"a": 1, "cmd": "$(touch {tmp_path}/subst)"}}'
    assert _printed(tmp_path, "j.txt") == document
    assert _printed(tmp_path, "a.txt") == "it's"
    assert _printed(tmp_path, "path.txt") == f"$(touch {tmp_path}/subst)"
    assert _printed(tmp_path, "ref.txt") == document
    assert _printed(tmp_path, "single.txt") == f"--in={document}\n"
    _nothing_ran(tmp_path)


def test_items_and_child_params_and_child_outputs_are_data(cli, write, tmp_path: Path) -> None:
    value = f"$(touch {tmp_path}/subst)"
    items = json.dumps([value, f"`touch {tmp_path}/tick`", {"k": f"x; touch {tmp_path}/semi"}])
    write(
        "wf.yaml",
        f"""
        name: wf
        params:
          - ITEMS: "[]"
          - V: plain
        steps:
          - name: each
            parallel: ${{ITEMS}}
            command: printf '%s\\n' "${{ITEM}}" >> {tmp_path}/items.txt
          - name: child
            run: child
            params: "GIVEN=${{V}}"
            output: R
          - name: use
            command: printf '%s' "${{R.outputs.OUT}}" > {tmp_path}/child-out.txt
        ---
        name: child
        params:
          - GIVEN: ""
        steps:
          - name: echo
            command: printf '%s' "${{GIVEN}}" > {tmp_path}/given.txt; printf '%s' "${{GIVEN}}"
            output: OUT
        """,
    )
    result = cli("start", "wf.yaml", "--", f"V={value}", f"ITEMS={items}")
    assert result.code == 0, result.out + result.err
    printed = _printed(tmp_path, "items.txt").splitlines()
    assert sorted(printed) == sorted(
        [value, f"`touch {tmp_path}/tick`", json.dumps({"k": f"x; touch {tmp_path}/semi"})]
    )
    assert _printed(tmp_path, "given.txt") == value
    assert _printed(tmp_path, "child-out.txt") == value
    _nothing_ran(tmp_path)


def test_preconditions_and_env_see_values_as_data_and_authors_backticks_still_run(
    cli, write, tmp_path: Path
) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        params:
          - V: ""
          - TODAY: "`echo from-backtick`"
        steps:
          - name: gated
            env:
              - GREETING: "hello ${{V}}"
              - COUNT: "`printf '%s' \\"${{V}}\\" | wc -c`"
            preconditions:
              - condition: test -n "${{V}}"
              - condition: "${{V}}"
                expected: "re:^\\\\$"
            command: |
              printf '%s' "$GREETING" > {tmp_path}/env.txt
              printf '%s' "${{TODAY}}" > {tmp_path}/today.txt
              printf '%s' "$COUNT" | tr -d ' ' > {tmp_path}/count.txt
              echo "$(echo authors-own)" > {tmp_path}/own.txt
        """,
    )
    value = f"$(touch {tmp_path}/subst)"
    result = cli("start", "wf.yaml", "--", f"V={value}")
    assert result.code == 0, result.out + result.err
    assert _printed(tmp_path, "env.txt") == f"hello {value}"
    assert _printed(tmp_path, "today.txt") == "from-backtick"
    assert _printed(tmp_path, "count.txt") == str(len(value))
    assert _printed(tmp_path, "own.txt") == "authors-own\n"
    _nothing_ran(tmp_path)


def test_given_param_with_backticks_is_not_run_but_a_default_is(cli, write, tmp_path: Path) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        params:
          - A: "`echo computed`"
          - B: "`echo computed`"
        steps:
          - name: show
            command: printf '%s|%s' "${{A}}" "${{B}}" > {tmp_path}/ab.txt
        """,
    )
    assert cli("start", "wf.yaml", "--", f"B=`touch {tmp_path}/tick`").code == 0
    assert _printed(tmp_path, "ab.txt") == f"computed|`touch {tmp_path}/tick`"
    _nothing_ran(tmp_path)


def test_a_20_mb_value_reaches_command_and_script_byte_exact(cli, write, tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    write(
        "big.yaml",
        f"""
        name: big
        maxOutputSize: {size + 100}
        steps:
          - name: make
            command: head -c {size} /dev/zero | tr '\\0' 'x'
            output: BIG
          - name: command
            command: printf '%s' "${{BIG}}" | wc -c > {tmp_path}/command.txt
          - name: script
            script: |
              printf '%s' "${{BIG}}" | sha256sum | cut -c1-64 > {tmp_path}/script.txt
          - name: list
            command:
              - printf '%s' "${{BIG}}" | wc -c > {tmp_path}/list.txt
        """,
    )
    result = cli("start", "big.yaml")
    assert result.code == 0, result.out + result.err
    assert int(_printed(tmp_path, "command.txt")) == size
    assert int(_printed(tmp_path, "list.txt")) == size
    import hashlib

    assert _printed(tmp_path, "script.txt").strip() == hashlib.sha256(b"x" * size).hexdigest()
    leftovers = [p.name for p in (tmp_path / "home").rglob(".value-*")]
    assert leftovers == [], "value files are removed after the step"


def test_params_too_big_for_the_environment_still_reach_every_step(
    cli, write, tmp_path: Path
) -> None:
    # A param of 200 KB (a webhook's payload may be 256 KiB) cannot be an environment string
    # (the kernel's limit is 128 KiB): every step failed to start with it. It is now a
    # variable only, reaching commands and scripts byte for byte; small params stay in the
    # environment as before.
    (tmp_path / "big.txt").write_text("é" * 50_000 + "$(touch pwned)" + "x" * 100_000)
    write(
        "bigparam.yaml",
        f"""
        name: bigparam
        params:
          - BIG: "`cat {tmp_path}/big.txt`"
          - SMALL: small
        steps:
          - name: command
            command: printf '%s' "${{BIG}}" | sha256sum > {tmp_path}/command.txt
          - name: script
            script: |
              printf '%s' "$BIG" | sha256sum > {tmp_path}/script.txt
              printf '%s' "$SMALL" > {tmp_path}/small.txt
        """,
    )
    result = cli("start", "bigparam.yaml")
    assert result.code == 0, result.out + result.err
    import hashlib

    digest = hashlib.sha256((tmp_path / "big.txt").read_bytes()).hexdigest()
    assert _printed(tmp_path, "command.txt").split()[0] == digest
    assert _printed(tmp_path, "script.txt").split()[0] == digest
    assert _printed(tmp_path, "small.txt") == "small"
    assert not (tmp_path / "pwned").exists()


def test_value_with_trailing_newlines_keeps_them(cli, write, tmp_path: Path) -> None:
    write(
        "nl.yaml",
        f"""
        name: nl
        maxOutputSize: 400000
        steps:
          - name: make
            command: python3 -c "import sys; sys.stdout.write('y' * 300000)"
            output: BIG
          - name: use
            command: printf '%s\\n\\n' "${{BIG}}" > {tmp_path}/nl.txt
        """,
    )
    assert cli("start", "nl.yaml").code == 0
    assert _printed(tmp_path, "nl.txt") == "y" * 300000 + "\n\n"


def test_fan_out_of_500_children_with_20_kb_outputs_feeds_a_command(
    cli, write, tmp_path: Path
) -> None:
    write(
        "big-fan.yaml",
        f"""
        name: big-fan
        steps:
          - name: list
            command: seq 1 500
            output: ITEMS
          - name: map
            run: item
            parallel:
              items: ${{ITEMS}}
              maxConcurrent: 20
            params: "N=${{ITEM}}"
            output: RESULTS
          - name: reduce
            command: printf '%s' "${{RESULTS.outputs}}" > {tmp_path}/outputs.json
        ---
        name: item
        params:
          - N: "0"
        steps:
          - name: emit
            command: head -c 20000 /dev/zero | tr '\\0' 'v'
            output: OUT
        """,
    )
    result = cli("start", "big-fan.yaml")
    assert result.code == 0, result.out + result.err
    outputs = json.loads(_printed(tmp_path, "outputs.json"))
    assert len(outputs) == 500
    assert all(entry == {"OUT": "v" * 20000} for entry in outputs)


# --------------------------------------------------------------------------- API and queue


WORKFLOW = """\
name: echo-value
params:
  - V: default
steps:
  - name: show
    command: printf '%s' "${{V}}" > {out}
"""


def _wait_finished(client: httpx.Client, run_id: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = client.get(f"/api/v1/runs/{run_id}").json()
        if record["status"] not in ("queued", "running"):
            return record  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_api_params_are_data(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    out = tmp_path / "api.txt"
    (dags / "echo-value.yaml").write_text(WORKFLOW.format(out=out))
    value = _payload(tmp_path)
    with plait_server(tmp_path, dags) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        with client:
            body = {"params": {"V": value}}
            started = client.post("/api/v1/workflows/echo-value/start", json=body)
            assert started.status_code in (200, 201, 202), started.text
            record = _wait_finished(client, started.json()["runId"])
    assert record["status"] == "succeeded", record
    assert out.read_text() == value
    _nothing_ran(tmp_path)


def test_queued_run_started_by_the_scheduler_gets_its_params_as_data(
    tmp_path: Path, plait_bin
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    out = tmp_path / "queued.txt"
    (dags / "echo-value.yaml").write_text(WORKFLOW.format(out=out))
    value = _payload(tmp_path)
    env = {"PLAIT_DAGS_DIR": str(dags)}
    queued = plait_bin("enqueue", "echo-value", "--", f"V={value}", env=env)
    assert queued.code == 0, queued.err
    log = (tmp_path / "scheduler.log").open("wb")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "plait", "scheduler"],
        stdout=log,
        stderr=log,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=20)
        except subprocess.TimeoutExpired:
            scheduler.kill()
        log.close()
    time.sleep(0.2)
    assert out.read_text() == value
    _nothing_ran(tmp_path)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_value_is_data_under_each_posix_shell(cli, write, tmp_path: Path, shell: str) -> None:
    write(
        "wf.yaml",
        f"""
        name: wf
        shell: {shell}
        steps:
          - name: s
            command: printf '%s' "${{V}}" > {tmp_path}/out.txt
        """,
    )
    value = _payload(tmp_path)
    assert cli("start", "wf.yaml", "--", f"V={value}").code == 0
    assert _printed(tmp_path, "out.txt") == value
    _nothing_ran(tmp_path)
