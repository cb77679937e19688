"""Every field of the reference's loader loads: what plait does with it, what it refuses when
a run starts (naming the step, the field and why), and one short message for a wrong value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _status(cli, target: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("status", target, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_fields_this_machine_cannot_serve_are_refused_when_the_run_starts(
    cli, write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    write(
        "needs.yaml",
        """
        name: needs
        llm: {provider: openai, model: gpt}
        registryAuths: {ghcr.io: {username: u, password: p}}
        container: {image: "alpine:3", volumes: ["/tmp:/tmp"]}
        steps:
          - name: nix
            command: hello
            shellPackages: [hello]
          - name: think
            type: chat
            messages: [{role: user, content: hi}]
          - name: plain
            command: echo in-the-container
        """,
    )
    assert cli("validate", "needs.yaml").code == 0  # every field loads
    assert cli("start", "needs.yaml").code == 1
    error = _status(cli, "needs")["error"]
    assert error.startswith("refused before any step ran: ")
    assert "step nix: `shellPackages`: installing packages needs nix-shell" in error
    assert "step think: `messages`: plait calls no LLM provider" in error
    assert "step think: `type`: executor `chat` needs an LLM provider" in error
    assert "step nix, plain: docker: no Docker engine at DOCKER_HOST" in error


def test_otel_is_read_as_the_tracing_settings(cli, write) -> None:
    write(
        "traced.yaml",
        """
        name: traced
        otel: {enabled: false, endpoint: "localhost:4317", timeout: 30s}
        steps:
          - name: s
            command: echo traced
        """,
    )
    result = cli("start", "traced.yaml")
    assert result.code == 0
    assert "otel" not in result.err  # no "accepted" note: plait traces (docs/operations.md)
    write(
        "typo.yaml",
        """
        name: typo
        otel: {endpiont: "http://127.0.0.1:4318"}
        steps:
          - name: s
            command: echo typo
        """,
    )
    refused = cli("validate", "typo.yaml")
    assert refused.code != 0 and "typo.yaml:2: otel.endpiont: unknown field" in refused.err


def test_a_child_fan_out_without_params_gives_each_item_as_first_param_or_names(
    cli, write, tmp_path: Path
) -> None:
    write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: words
            run: echo-first
            parallel: '["alpha", "beta"]'
          - name: objects
            run: echo-named
            parallel:
              items: [{{REGION: eu, SIZE: "2"}}, {{REGION: us, SIZE: "3"}}]
        ---
        name: echo-first
        steps:
          - name: show
            command: echo "first=$1" >> {tmp_path}/first.txt
        ---
        name: echo-named
        params:
          - REGION: none
          - SIZE: "0"
        steps:
          - name: show
            command: echo "${{REGION}}:${{SIZE}}" >> {tmp_path}/named.txt
        """,
    )
    assert cli("start", "fan.yaml").code == 0
    assert sorted((tmp_path / "first.txt").read_text().split()) == ["first=alpha", "first=beta"]
    assert sorted((tmp_path / "named.txt").read_text().split()) == ["eu:2", "us:3"]


@pytest.mark.parametrize(
    ("yaml", "where", "message"),
    [
        ("runConfig: {disableParamEdit: yes-please}\n", "runConfig.disableParamEdit", "true or"),
        ("logOutput: both\n", "logOutput", "must be one of separate, merged"),
        ("mailOn: {failure: maybe}\n", "mailOn.failure", "must be true or false"),
        ("smtp: {host: x, port: 70000}\n", "smtp.port", "must be a port number"),
        ("ssh: {hots: x}\n", "ssh.hots", "unknown field `hots`; did you mean `host`?"),
        ("errorMail: {to: [a], attach: true}\n", "errorMail.attach", "unknown field"),
    ],
    ids=["runConfig", "logOutput", "mailOn", "smtp", "ssh", "errorMail"],
)
def test_a_wrong_value_of_a_workflow_field_is_one_message(
    cli, write, yaml: str, where: str, message: str
) -> None:
    write("bad.yaml", f"name: bad\n{yaml}steps:\n  - name: s\n    command: 'true'\n")
    result = cli("validate", "bad.yaml")
    assert result.code == 1
    assert f"bad.yaml:2: {where}: " in result.err and message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("step", "where", "message"),
    [
        ("output: {key: K}", "steps[0].output", "`name` is required"),
        (
            "type: hitl\n    config: {input: [A], required: [B]}",
            "steps[0].config.required",
            "`B` is not in `input`",
        ),
        ("executor: {type: http, options: {}}", "steps[0].executor.options", "unknown field"),
        ("config: {raw: true}", "steps[0].config", "`config` needs `type`"),
        ("type: jq\n    config: {raw: 3}", "steps[0].config.raw", "must be true or false"),
        ("logOutput: merged-ish", "steps[0].logOutput", "must be one of separate, merged"),
        ("id: 9lives", "steps[0].id", "must be an identifier"),
    ],
    ids=["output", "hitl", "executor", "config", "jq", "logOutput", "id"],
)
def test_a_wrong_value_of_a_step_field_is_one_message(
    cli, write, step: str, where: str, message: str
) -> None:
    write("bad.yaml", f"name: bad\nsteps:\n  - command: 'true'\n    {step}\n")
    result = cli("validate", "bad.yaml")
    assert result.code == 1
    assert f"{where}: " in result.err and message in result.err, result.err
    assert "Traceback" not in result.err
