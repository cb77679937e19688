"""Executors against real peers on loopback: jq, http (a local HTTP server), mail (aiosmtpd),
ssh (Debian's sshd with a throw-away key), archive (real files), docker (no engine here: the
run is refused at its start, naming the step). Run-time values are data in each of them."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.peers import http_peer, smtp_peer, ssh_peer


def _status(cli, name: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("status", name, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def _steps(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {s["name"]: s for s in record["steps"]}


def _log(cli, name: str, step: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("logs", name, "--step", step, *extra)
    assert result.code == 0, result.err
    return str(result.out)


PAYLOAD = "$(touch PWNED) `id` \"q\" 'a' \\ ${HOME}"


# --------------------------------------------------------------------------- jq


def test_jq_queries_the_script_with_values_as_data(cli, write, tmp_path: Path) -> None:
    write(
        "jq.yaml",
        """
        name: jq
        params:
          - WANT: "2"
          - NAME: ""
        steps:
          - name: pick
            executor: jq
            command: '.items[] | select(.n == (${WANT} | tonumber)) | .name'
            script: '{"items": [{"n": 1, "name": "one"}, {"n": 2, "name": "${NAME}"}]}'
            output: PICKED
          - name: raw
            type: jq
            config: {raw: true}
            command: '.items[].name'
            script: '{"items": [{"name": "a"}, {"name": "b"}]}'
            output: RAW
          - name: bad
            executor: jq
            command: '.['
            script: '{}'
            continueOn: {failure: true}
        """,
    )
    result = cli("start", "jq.yaml", "--", f"NAME={PAYLOAD}")
    assert result.code == 3, result.out + result.err
    outputs = _status(cli, "jq")["outputs"]
    assert json.loads(outputs["PICKED"]) == PAYLOAD
    assert outputs["RAW"] == "a\nb"
    bad = _steps(_status(cli, "jq"))["bad"]
    assert bad["status"] == "failed" and bad["error"].startswith("jq: ")
    assert not (tmp_path / "PWNED").exists()


# --------------------------------------------------------------------------- http


def test_http_sends_method_headers_query_and_body_as_data(cli, write, tmp_path: Path) -> None:
    with http_peer() as peer:
        write(
            "http.yaml",
            f"""
            name: http
            params:
              - TOKEN: ""
              - VALUE: ""
            steps:
              - name: post
                executor:
                  type: http
                  config:
                    headers: {{X-Token: "${{TOKEN}}", Content-Type: application/json}}
                    query: {{q: "${{VALUE}}"}}
                    body: '{{"value": "${{VALUE}}"}}'
                    silent: true
                command: POST {peer.url}/echo
                output: ANSWER
              - name: full
                executor: http
                command: GET {peer.url}/json
              - name: as-json
                type: http
                config: {{json: true}}
                command: GET {peer.url}/json
                output: JSONED
            """,
        )
        result = cli("start", "http.yaml", "--", "TOKEN=t0k", "VALUE=a&b=c #x")
        assert result.code == 0, result.out + result.err
    sent = peer.requests[0]
    assert sent["method"] == "POST"
    assert sent["headers"]["X-Token"] == "t0k"
    assert sent["path"] == "/echo?q=a%26b%3Dc+%23x"
    assert sent["body"] == '{"value": "a&b=c #x"}'
    outputs = _status(cli, "http")["outputs"]
    assert json.loads(outputs["ANSWER"])["method"] == "POST"  # silent: the body alone
    full = _log(cli, "http", "full")
    assert full.startswith("HTTP/1.1 200 OK\n") and "x-peer: yes" in full
    assert full.endswith('{"ok": true, "items": [1, 2]}')
    jsoned = json.loads(outputs["JSONED"])
    assert jsoned["status_code"] == 200 and jsoned["body"] == {"ok": True, "items": [1, 2]}


def test_http_status_not_2xx_fails_and_timeout_is_the_steps(cli, write) -> None:
    with http_peer() as peer:
        write(
            "bad.yaml",
            f"""
            name: bad
            type: graph
            steps:
              - name: missing
                executor: http
                command: GET {peer.url}/status/404
              - name: slow
                executor: {{type: http, config: {{timeout: 1}}}}
                command: GET {peer.url}/slow
              - name: nowhere
                executor: http
                command: GET http://127.0.0.1:1/
            """,
        )
        assert cli("start", "bad.yaml").code == 1
    steps = _steps(_status(cli, "bad"))
    assert steps["missing"]["error"] == "http status code not 2xx: 404"
    assert "404" in _log(cli, "bad", "missing")
    assert steps["slow"]["error"] == f"http: GET {peer.url}/slow: no answer within 1s"
    assert steps["nowhere"]["error"].startswith("http: GET http://127.0.0.1:1/:")


# --------------------------------------------------------------------------- archive


def test_archive_creates_lists_and_extracts_tar_gz_and_zip(cli, write, tmp_path: Path) -> None:
    source = tmp_path / "data"
    (source / "sub").mkdir(parents=True)
    (source / "keep.txt").write_text("keep")
    (source / "sub" / "deep.txt").write_text("deep")
    (source / "sub" / "skip.log").write_text("skip")
    write(
        "arc.yaml",
        """
        name: arc
        steps:
          - name: pack
            type: archive
            command: create
            config: {source: data, destination: out/data.tar.gz, exclude: ["**/*.log"]}
          - name: zip
            type: archive
            command: create
            config: {source: data, destination: out/data.zip, include: ["**/*.txt"]}
          - name: look
            type: archive
            command: list
            config: {source: out/data.zip}
            output: LISTED
          - name: unpack
            type: archive
            command: extract
            config: {source: out/data.tar.gz, destination: got, stripComponents: 0}
          - name: again
            type: archive
            command: extract
            config: {source: out/data.tar.gz, destination: got}
            output: AGAIN
        """,
    )
    result = cli("start", "arc.yaml")
    assert result.code == 0, result.out + result.err
    with tarfile.open(tmp_path / "out" / "data.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["keep.txt", "sub/deep.txt"]
    with zipfile.ZipFile(tmp_path / "out" / "data.zip") as archive:
        assert sorted(archive.namelist()) == ["keep.txt", "sub/deep.txt"]
    outputs = _status(cli, "arc")["outputs"]
    assert json.loads(outputs["LISTED"])["totalFiles"] == 2
    assert (tmp_path / "got" / "sub" / "deep.txt").read_text() == "deep"
    assert json.loads(outputs["AGAIN"])["filesSkipped"] == 2  # no overwrite


def test_archive_never_extracts_outside_its_destination(cli, write, tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(evil, "w") as tar:
        tar.add(payload, arcname="../../escaped.txt")
        tar.add(payload, arcname="fine.txt")
    write(
        "evil.yaml",
        """
        name: evil
        steps:
          - name: unpack
            type: archive
            command: extract
            config: {source: evil.tar, destination: box, continueOnError: true}
            output: RESULT
        """,
    )
    assert cli("start", "evil.yaml").code == 0
    result = json.loads(_status(cli, "evil")["outputs"]["RESULT"])
    assert result["filesExtracted"] == 1 and "outside the destination" in result["errors"][0]
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert (tmp_path / "box" / "fine.txt").exists()


# --------------------------------------------------------------------------- mail


def test_mail_executor_and_notifications_reach_a_real_smtp_server(
    cli, write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAIL_TOKEN", "tok-mail-77aa")
    with smtp_peer() as smtp:
        write(
            "mail.yaml",
            f"""
            name: mailer
            smtp: {{host: 127.0.0.1, port: {smtp.port}}}
            mailOn: {{failure: true, success: true}}
            errorMail: {{from: plait@test, to: [ops@test], prefix: "[ALERT]", attachLogs: true}}
            infoMail: {{from: plait@test, to: team@test, prefix: "[OK]"}}
            secrets:
              - name: API_TOKEN
                provider: env
                key: MAIL_TOKEN
            params:
              - WHO: ""
            steps:
              - name: tell
                executor:
                  type: mail
                  config:
                    from: bot@test
                    to: [a@test, b@test]
                    subject: "hello ${{WHO}}"
                    message: "dear ${{WHO}}, the token is $API_TOKEN"
              - name: flaky
                command: echo "failing with $API_TOKEN"; exit 2
                mailOnError: true
                continueOn: {{failure: true}}
            """,
        )
        result = cli("start", "mail.yaml", "--", "WHO=$(id) 'x'")
        assert result.code == 3, result.out + result.err
        messages = smtp.wait_for(3)
    by_subject = {m["Subject"]: m for m in messages}
    told = by_subject["hello $(id) 'x'"]
    assert told["X-Envelope-To"] == "a@test, b@test"
    assert told.get_payload().strip() == "dear $(id) 'x', the token is *******"
    alert = by_subject["[ALERT] mailer (running)"]  # mailOnError, while the run goes on
    assert "flaky" in alert.get_payload()[0].get_payload()
    attached = [part.get_filename() for part in alert.walk() if part.get_filename()]
    assert "flaky.1.out" in attached
    logs = [part.get_payload(decode=True) for part in alert.walk() if part.get_filename()]
    assert b"tok-mail-77aa" not in b"".join(logs) and b"*******" in b"".join(logs)
    ok = by_subject["[OK] mailer (partially_succeeded)"]  # mailOn.success
    assert ok["To"] == "team@test"
    assert "tok-mail-77aa" not in ok.as_string()


def test_a_mail_server_that_refuses_never_fails_a_run(cli, write) -> None:
    write(
        "quiet.yaml",
        """
        name: quiet
        smtp: {host: 127.0.0.1, port: 1}
        mailOn: {success: true}
        infoMail: {from: plait@test, to: ops@test}
        steps:
          - name: fine
            command: echo fine
        """,
    )
    assert cli("start", "quiet.yaml").code == 0
    record = _status(cli, "quiet")
    assert record["status"] == "succeeded"
    run_log = Path(record["steps"][0]["stdoutFile"]).parent / "run.log"
    assert "mail not sent: mail to ops@test via 127.0.0.1:1 failed" in run_log.read_text()


def test_mail_settings_are_checked_when_loading(cli, write) -> None:
    write(
        "bad.yaml",
        """
        name: bad
        smtp: {host: x, port: 99999}
        errorMail: {to: 5, sender: a}
        steps:
          - name: m
            type: mail
            config: {subject: s}
        """,
    )
    result = cli("validate", "bad.yaml")
    assert result.code == 1
    assert "bad.yaml:2: smtp.port: must be a port number (1-65535), not 99999" in result.err
    assert "bad.yaml:3: errorMail.sender: unknown field `sender`" in result.err
    assert "bad.yaml:7: steps[0].config: `to` is required" in result.err


# --------------------------------------------------------------------------- ssh


def test_ssh_runs_commands_remotely_with_values_as_data(cli, write, tmp_path: Path) -> None:
    with ssh_peer(tmp_path / "sshd") as peer:
        write(
            "remote.yaml",
            f"""
            name: remote
            ssh:
              user: {peer.user}
              host: {peer.host}
              port: {peer.port}
              key: {peer.key}
              knownHostFile: {peer.known_hosts}
            params:
              - V: ""
            steps:
              - name: hello
                command: printf '%s' "${{V}}" > {tmp_path}/remote.txt; echo remote-$((6 * 7))
                output: SAID
              - name: both
                command:
                  - echo first
                  - echo to-stderr >&2
              - name: fails
                command: exit 7
                continueOn: {{failure: true}}
              - name: shelled
                type: ssh
                config:
                  user: {peer.user}
                  host: {peer.host}
                  port: {peer.port}
                  key: {peer.key}
                  knownHostFile: {peer.known_hosts}
                  shell: bash -e
                command: echo "$BASH_VERSION" | cut -c1
                output: BASHED
            """,
        )
        result = cli("start", "remote.yaml", "--", f"V={PAYLOAD}")
        assert result.code == 3, result.out + result.err
    assert (tmp_path / "remote.txt").read_text() == PAYLOAD
    assert not (tmp_path / "PWNED").exists()
    record = _status(cli, "remote")
    assert record["outputs"]["SAID"] == "remote-42"
    assert _log(cli, "remote", "both") == "first\n"
    assert _log(cli, "remote", "both", "--stderr") == "to-stderr\n"
    steps = _steps(record)
    assert steps["fails"]["exitCode"] == 7
    assert record["outputs"]["BASHED"].isdigit()


def test_ssh_refuses_an_unknown_host_key(cli, write, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with ssh_peer(tmp_path / "sshd") as peer:
        write(
            "strict.yaml",
            f"""
            name: strict
            steps:
              - name: s
                type: ssh
                config:
                  user: {peer.user}
                  host: {peer.host}
                  port: {peer.port}
                  key: {peer.key}
                  knownHostFile: {empty}
                command: echo never
            """,
        )
        assert cli("start", "strict.yaml").code == 1
    error = _steps(_status(cli, "strict"))["s"]["error"]
    assert error.startswith("ssh: 127.0.0.1:") or "not found in known_hosts" in error


# --------------------------------------------------------------------------- docker


def test_docker_without_an_engine_is_refused_at_the_start_naming_the_step(
    cli, write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    write(
        "boxed.yaml",
        """
        name: boxed
        steps:
          - name: prepare
            command: echo never
          - name: in-box
            executor:
              type: docker
              config: {image: "alpine:3", pull: missing, volumes: ["/tmp:/tmp:ro"]}
            command: echo hi
        """,
    )
    assert cli("validate", "boxed.yaml").code == 0
    assert cli("start", "boxed.yaml").code == 1
    record = _status(cli, "boxed")
    assert record["error"] == (
        "refused before any step ran: step in-box: docker: no Docker engine at DOCKER_HOST "
        f"(unix://{tmp_path}/no-docker.sock): no socket there"
    )
    assert all(s["status"] == "not_started" for s in record["steps"])


def test_docker_settings_are_checked_when_loading(cli, write) -> None:
    write(
        "bad.yaml",
        """
        name: bad
        steps:
          - name: a
            executor: {type: docker, config: {pull: sometimes, image: x}}
            command: echo
          - name: b
            type: docker
            config: {autoRemove: true}
            command: echo
        """,
    )
    result = cli("validate", "bad.yaml")
    assert result.code == 1
    assert "steps[0].executor.config.pull: must be one of always, missing, never" in result.err
    assert "steps[1].config: docker needs `image`" in result.err
