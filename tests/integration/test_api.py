"""The REST API against a real ``plait server`` on a free loopback port, over real HTTP.

The server is started once for the module with its own PLAIT_HOME and DAGs folder; runs it
starts are real agent processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.servers import plait_server

WORKFLOWS = {
    "deep-fail.yaml": """
        name: deep-fail
        steps:
          - name: fine
            command: echo fine
          - name: down
            run: deep-middle
            parallel: {items: [ok, bad, also-bad], maxConcurrent: 1}
            params: "X=${ITEM}"
            continueOn: {failure: true}
        ---
        name: deep-middle
        params: [X=ok]
        steps:
          - name: leaf
            run: deep-leaf
            params: "X=${X}"
        ---
        name: deep-leaf
        params: [X=ok]
        steps:
          - name: check
            command: >-
              sh -c 'test "$1" = ok || { echo "no good $1" >&2; exit 9; }' _ ${X}
    """,
    "bulky.yaml": """
        name: bulky
        outputs: [BIG]
        steps:
          - name: make
            command: sh -c 'head -c 50000 /dev/zero | tr "\\0" x; printf "<é>"'
            output: BIG
          - name: small
            command: echo small
            output: SMALL
    """,
    "hello.yaml": """
        name: hello
        description: says hello
        tags: [demo, greet]
        schedule: "0 5 * * *"
        params:
          - WHO: world
        steps:
          - name: greet
            command: echo "hello ${WHO}"
          - name: after
            command: echo done
    """,
    "flaky.yaml": """
        name: flaky
        tags: [demo]
        steps:
          - name: first
            command: echo first
          - name: check
            command: test -f "{flag}"
          - name: last
            command: echo last
    """,
    "sleeper.yaml": """
        name: sleeper
        steps:
          - name: wait
            command: sleep 30
    """,
    "ticker.yaml": """
        name: ticker
        steps:
          - name: tick
            command: for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.3; done
    """,
    "biglog.yaml": """
        name: biglog
        steps:
          - name: spew
            command: seq 1 300000
    """,
    "nest-a.yaml": """
        name: nest-a
        steps:
          - name: call-b
            run: nest-b
    """,
    "nest-b.yaml": """
        name: nest-b
        steps:
          - name: call-c
            run: nest-c
    """,
    "nest-c.yaml": """
        name: nest-c
        steps:
          - name: leaf
            command: echo leaf
    """,
    "fanout.yaml": """
        name: fanout
        steps:
          - name: items
            run: fan-item
            parallel:
              items: [{items}]
              maxConcurrent: 10
            params: "N=${{ITEM}}"
    """,
    "fan-item.yaml": """
        name: fan-item
        params:
          - N: "0"
        steps:
          - name: work
            command: if [ $(( ${N} % 7 )) -eq 3 ]; then sleep 1; exit 1; fi
    """,
    "history.yaml": """
        name: history
        params:
          - FAIL: "no"
        steps:
          - name: first
            command: echo first
          - name: check
            command: test "${FAIL}" != yes
          - name: last
            command: echo last
    """,
    "broken.yaml": """
        name: broken
        steps:
          - name: a
            depends: [nope]
            command: echo a
    """,
    "editable.yaml": """
        name: editable
        steps:
          - name: one
            command: echo one
    """,
    "sub/deeper/deep.yaml": """
        name: deep
        tags: [inner]
        schedule:
          - "@every 10m"
          - "CRON_TZ=Asia/Tokyo 0 9 * * *"
        steps:
          - name: d
            command: echo deep
    """,
    "two-docs.yaml": """
        name: first-doc
        steps:
          - name: call
            run: second-doc
        ---
        name: second-doc
        steps:
          - name: s
            command: echo second
    """,
    "node_modules/ignored.yaml": """
        name: ignored-module
        steps:
          - name: i
            command: echo no
    """,
    ".hidden/ignored.yaml": """
        name: ignored-hidden
        steps:
          - name: i
            command: echo no
    """,
    "tolerant.yaml": """
        name: tolerant
        type: graph
        steps:
          - name: tolerated
            command: exit 4
            continueOn:
              failure: true
          - name: plain-failure
            command: exit 5
          - name: gated
            command: echo never
            preconditions:
              - condition: "`echo no`"
                expected: "yes"
    """,
}


@dataclass
class Server:
    url: str
    client: httpx.Client
    home: Path
    dags: Path
    flag: Path


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = {"PLAIT_DATABASE_URL": ""}
    if request.param == "postgres":
        env["PLAIT_DATABASE_URL"] = request.getfixturevalue("postgres").new_database()
    root = tmp_path_factory.mktemp("api")
    home, dags, flag = root / "home", root / "dags", root / "flag"
    dags.mkdir()
    items = ", ".join(str(i) for i in range(30))
    for name, text in WORKFLOWS.items():
        body = textwrap.dedent(text).lstrip("\n")
        body = body.replace("{flag}", str(flag)) if "{flag}" in body else body
        body = body.format(items=items) if name == "fanout.yaml" else body
        (dags / name).parent.mkdir(parents=True, exist_ok=True)
        (dags / name).write_text(body)
    with plait_server(root, dags, env=env) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        try:
            yield Server(url, client, home, dags, flag)
        finally:
            client.close()


def _start(server: Server, name: str, params: Any = None) -> str:
    response = server.client.post(f"/api/v1/workflows/{name}/start", json={"params": params})
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


def _wait_final(server: Server, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never finished")


def _wait_step_running(server: Server, run_id: str, step: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = server.client.get(f"/api/v1/runs/{run_id}").json()
        if any(s["name"] == step and s["status"] == "running" for s in run["steps"]):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} of run {run_id} never ran")


# ---------------------------------------------------------------- workflows


def test_health_openapi_and_docs(server: Server) -> None:
    assert server.client.get("/health").json() == {"status": "ok"}
    spec = server.client.get("/api/openapi.json").json()
    assert "/api/v1/runs/{runId}/tree" in spec["paths"]
    assert server.client.get("/api/docs").status_code == 200
    home_page = server.client.get("/")
    assert home_page.status_code == 200 and "<html" in home_page.text.lower()
    # the UI routes in the browser: any other page that is not the API is the same page
    assert server.client.get("/runs/some-run-id").text == home_page.text


def test_workflows_list_shows_every_file_and_broken_ones_with_their_error(server: Server) -> None:
    listed = {w["name"]: w for w in server.client.get("/api/v1/workflows").json()["workflows"]}
    assert set(listed) >= {"hello", "flaky", "nest-a", "fanout", "broken", "editable"}
    hello = listed["hello"]
    assert hello["tags"] == ["demo", "greet"]
    assert hello["schedule"] == ["0 5 * * *"]
    assert hello["nextRun"].endswith("Z")
    assert hello["params"] == [{"name": "WHO", "default": "world"}]
    assert hello["error"] is None
    assert "depends on unknown step" in listed["broken"]["error"]


def test_workflows_list_filters_by_name_tag_and_last_status(server: Server) -> None:
    names = lambda **q: [  # noqa: E731
        w["name"] for w in server.client.get("/api/v1/workflows", params=q).json()["workflows"]
    ]
    assert names(name="NEST") == ["nest-a", "nest-b", "nest-c"]
    assert names(tag="demo") == ["flaky", "hello"]
    run_id = _start(server, "nest-c")
    _wait_final(server, run_id)
    assert "nest-c" in names(status="succeeded")
    assert "hello" not in names(status="running")


def test_get_workflow_describes_steps_with_effective_depends(server: Server) -> None:
    body = server.client.get("/api/v1/workflows/hello").json()
    assert body["name"] == "hello" and body["type"] == "chain"
    assert [s["name"] for s in body["steps"]] == ["greet", "after"]
    assert body["steps"][1]["depends"] == ["greet"]
    assert body["steps"][0]["command"] == 'echo "hello ${WHO}"'
    fan = server.client.get("/api/v1/workflows/fanout").json()["steps"][0]
    assert fan["run"] == "fan-item" and fan["parallel"]["maxConcurrent"] == 10
    assert len(fan["parallel"]["items"]) == 30


def test_workflows_of_subfolders_and_later_documents_are_found(server: Server) -> None:
    listed = server.client.get("/api/v1/workflows").json()["workflows"]
    by_name = {w["name"]: w for w in listed}
    assert by_name["deep"]["path"] == "sub/deeper/deep.yaml"
    assert by_name["deep"]["folder"] == "sub/deeper"
    assert by_name["hello"]["folder"] == "" and by_name["hello"]["path"] == "hello.yaml"
    # the top-level files come first, then each subfolder's
    assert [w["folder"] for w in listed].index("sub/deeper") > len(
        [w for w in listed if not w["folder"]]
    ) - 1
    assert "second-doc" not in by_name  # a later document is a child, not listed
    assert not {"ignored-module", "ignored-hidden"} & set(by_name)

    deep = server.client.get("/api/v1/workflows/deep").json()
    assert (deep["path"], deep["document"]) == ("sub/deeper/deep.yaml", 0)
    by_file = server.client.get("/api/v1/workflows/deep", params={"file": "sub/deeper/deep.yaml"})
    assert by_file.status_code == 200 and by_file.json()["steps"][0]["name"] == "d"
    spec = server.client.get("/api/v1/workflows/deep/spec", params={"file": deep["path"]})
    assert "echo deep" in spec.json()["yaml"]
    second = server.client.get("/api/v1/workflows/second-doc").json()
    assert (second["path"], second["document"]) == ("two-docs.yaml", 1)
    in_file = server.client.get("/api/v1/workflows/second-doc", params={"file": "two-docs.yaml"})
    assert in_file.json()["document"] == 1
    refused = server.client.post("/api/v1/workflows/second-doc/start")
    assert refused.status_code == 422 and "later document" in refused.json()["error"]

    run_id = server.client.post(
        "/api/v1/workflows/deep/start", params={"file": "sub/deeper/deep.yaml"}, json={}
    ).json()["runId"]
    run = _wait_final(server, run_id)
    assert run["status"] == "succeeded" and run["workflowFile"] == "sub/deeper/deep.yaml"
    parent = _wait_final(server, _start(server, "first-doc"))
    child = server.client.get(f"/api/v1/runs/{parent['children'][0]['runId']}").json()
    assert (child["name"], child["workflowFile"]) == ("second-doc", "two-docs.yaml")
    listed_runs = server.client.get("/api/v1/runs", params={"workflow": "deep"}).json()["runs"]
    assert listed_runs[0]["workflowFile"] == "sub/deeper/deep.yaml"


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("ignored-module", None),
        ("ignored-hidden", None),
        ("ignored-hidden", ".hidden/ignored.yaml"),
        ("ignored-module", "node_modules/ignored.yaml"),
        ("secret", "../secret.yaml"),
        ("secret", "/etc/passwd"),
        ("passwd", "/etc/passwd"),
        ("deep", "sub/deeper/nope.yaml"),
        ("deep", "sub/deeper"),
        ("nope", "sub/deeper/deep.yaml"),
        ("hello", "hello.yaml/../../secret.yaml"),
    ],
)
def test_a_file_outside_the_dags_folder_or_skipped_is_not_found(
    server: Server, name: str, file: str | None
) -> None:
    (server.dags.parent / "secret.yaml").write_text(
        "name: secret\nsteps:\n  - name: s\n    command: echo secret\n"
    )
    query = {"file": file} if file is not None else {}
    for suffix in ("", "/spec"):
        response = server.client.get(f"/api/v1/workflows/{name}{suffix}", params=query)
        assert response.status_code == 404, (name, file, response.text)
        assert "echo secret" not in response.text


def test_a_symlink_out_of_the_dags_folder_is_neither_listed_nor_read(server: Server) -> None:
    outside = server.dags.parent / "outside.yaml"
    outside.write_text("name: outside\nsteps:\n  - name: o\n    command: echo outside-secret\n")
    link = server.dags / "linked.yaml"
    link.symlink_to(outside)
    try:
        names = {w["name"] for w in server.client.get("/api/v1/workflows").json()["workflows"]}
        assert not {"outside", "linked"} & names
        for path in ("/api/v1/workflows/linked/spec", "/api/v1/workflows/outside/spec"):
            response = server.client.get(path)
            assert response.status_code == 404 and "outside-secret" not in response.text
        by_file = server.client.get("/api/v1/workflows/outside", params={"file": "linked.yaml"})
        assert by_file.status_code == 404
    finally:
        link.unlink()


def test_next_run_for_every_and_cron_tz_schedules(server: Server) -> None:
    from datetime import datetime

    before = time.time()
    deep = next(
        w for w in server.client.get("/api/v1/workflows").json()["workflows"] if w["name"] == "deep"
    )
    assert deep["schedule"] == ["@every 10m", "CRON_TZ=Asia/Tokyo 0 9 * * *"]
    fire = datetime.fromisoformat(deep["nextRun"].replace("Z", "+00:00")).timestamp()
    # @every 10m fires on multiples of 600 s (as the scheduler does); it comes before 09:00 JST
    # unless that is less than 10 minutes away
    assert before < fire <= before + 600 + 1
    assert fire % 600 == 0 or datetime.fromtimestamp(fire).astimezone().minute == 0


def test_a_tolerated_failure_is_marked_even_when_the_run_fails(server: Server) -> None:
    run = _wait_final(server, _start(server, "tolerant"))
    assert run["status"] == "failed"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["tolerated"]["status"] == "failed" and steps["tolerated"]["tolerated"] is True
    assert steps["plain-failure"]["status"] == "failed"
    assert "tolerated" not in steps["plain-failure"]
    assert steps["gated"]["status"] == "skipped"
    assert steps["gated"]["error"] == "precondition not met"


def test_spec_get_put_valid_and_invalid(server: Server) -> None:
    got = server.client.get("/api/v1/workflows/editable/spec").json()
    assert "echo one" in got["yaml"]
    new = got["yaml"].replace("echo one", "echo two")
    saved = server.client.put("/api/v1/workflows/editable/spec", json={"yaml": new})
    assert saved.status_code == 200, saved.text
    assert "echo two" in (server.dags / "editable.yaml").read_text()
    bad = "name: editable\nsteps:\n  - name: one\n    command: echo\n    dependz: [x]\n"
    refused = server.client.put("/api/v1/workflows/editable/spec", json={"yaml": bad})
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert problems and problems[0]["line"] == 5 and "dependz" in problems[0]["field"]
    assert "echo two" in (server.dags / "editable.yaml").read_text()  # unchanged


def test_spec_put_creates_a_new_workflow_but_never_outside_the_folder(server: Server) -> None:
    text = "name: fresh\nsteps:\n  - name: a\n    command: echo a\n"
    created = server.client.put("/api/v1/workflows/fresh/spec", json={"yaml": text})
    assert created.status_code == 201, created.text
    assert (server.dags / "fresh.yaml").is_file()
    for name in ("..%2F..%2Fescape", "%2E%2E", ".hidden"):
        refused = server.client.put(f"/api/v1/workflows/{name}/spec", json={"yaml": text})
        assert refused.status_code in (400, 404, 405), (name, refused.text)
    assert not (server.dags.parent / "escape.yaml").exists()


def test_validate_reports_problems_with_lines(server: Server) -> None:
    good = server.client.post("/api/v1/validate", json={"yaml": WORKFLOWS["nest-c.yaml"]})
    assert good.json() == {"valid": True, "problems": []}
    bad = "steps:\n  - name: a\n    command: echo\n  - name: b\n    depends: [zzz]\n"
    body = server.client.post("/api/v1/validate", json={"yaml": bad, "name": "editable"}).json()
    assert body["valid"] is False
    assert [(p["line"], p["field"]) for p in body["problems"]] == [
        (4, "steps[1]"),  # nothing to run
        (5, "steps[1].depends[0]"),
    ]
    assert "zzz" in body["problems"][1]["message"]
    nameless = server.client.post("/api/v1/validate", json={"yaml": bad}).json()
    assert "name" in nameless["problems"][0]["message"]


def test_schema_queues_scheduler(server: Server) -> None:
    assert server.client.get("/api/v1/schema").json()["type"] == "object"
    assert "queues" in server.client.get("/api/v1/queues").json()
    assert server.client.get("/api/v1/scheduler").json() == {"active": False, "owner": None}


# ---------------------------------------------------------------- runs


def test_a_runs_reply_cuts_a_long_output_and_its_whole_value_is_a_request_away(
    server: Server,
) -> None:
    run_id = _wait_final(server, _start(server, "bulky"))["runId"]
    run = server.client.get(f"/api/v1/runs/{run_id}").json()
    make, small = run["steps"]
    assert (make["outputCut"], make["outputSize"]) == (True, 50000 + len("<é>".encode()))
    assert make["output"] == "x" * 16384
    assert "outputCut" not in small and small["output"] == "small"
    assert run["outputs"]["BIG"].startswith("x" * 16384 + "… [cut: 50003 characters in all")
    whole = server.client.get(f"/api/v1/runs/{run_id}/steps/make/output")
    assert whole.status_code == 200 and whole.text == "x" * 50000 + "<é>"
    assert whole.headers["content-type"].startswith("text/plain")
    value = server.client.get(f"/api/v1/runs/{run_id}/outputs/BIG")
    assert value.status_code == 200 and value.text == "x" * 50000 + "<é>"
    for path in (f"/runs/{run_id}/outputs/NOPE", f"/runs/{run_id}/steps/nope/output"):
        missing = server.client.get("/api/v1" + path)
        assert missing.status_code == 404 and "error" in missing.json()


def test_start_runs_to_the_end_with_params(server: Server) -> None:
    run_id = _start(server, "hello", {"WHO": "api"})
    run = _wait_final(server, run_id)
    assert run["status"] == "succeeded"
    assert run["params"] == {"WHO": "api"}
    log = server.client.get(f"/api/v1/runs/{run_id}/steps/greet/log").json()
    assert log["content"] == "hello api\n"
    text_params = _start(server, "hello", "WHO='two words'")
    _wait_final(server, text_params)
    log = server.client.get(f"/api/v1/runs/{text_params}/steps/greet/log").json()
    assert log["content"] == "hello two words\n"
    listed = server.client.get("/api/v1/runs", params={"workflow": "hello"}).json()
    assert {run_id, text_params} <= {r["runId"] for r in listed["runs"]}
    assert "steps" not in listed["runs"][0]


def test_runs_list_filters_and_paginates(server: Server) -> None:
    for _ in range(3):
        _wait_final(server, _start(server, "nest-c"))
    page = server.client.get("/api/v1/runs", params={"workflow": "nest-c", "limit": 2}).json()
    assert len(page["runs"]) == 2 and page["total"] >= 3
    second = server.client.get(
        "/api/v1/runs", params={"workflow": "nest-c", "limit": 2, "offset": 2}
    ).json()
    assert not {r["runId"] for r in page["runs"]} & {r["runId"] for r in second["runs"]}
    future = server.client.get("/api/v1/runs", params={"from": "2999-01-01T00:00:00Z"}).json()
    assert future == {"runs": [], "total": 0, "counts": {}}
    failed = server.client.get("/api/v1/runs", params={"status": "failed,cancelled"}).json()
    assert all(r["status"] in ("failed", "cancelled") for r in failed["runs"])


def test_history_pages_runs_with_each_steps_status_in_the_workflows_order(
    server: Server,
) -> None:
    ran = []
    for fail in ("no", "yes", "no"):  # one at a time: maxActiveRuns is 1
        ran.append(_start(server, "history", {"FAIL": fail}))
        _wait_final(server, ran[-1])
    url = "/api/v1/workflows/history/history"
    page = server.client.get(url).json()
    assert page["name"] == "history" and page["total"] == 3
    assert page["steps"] == ["first", "check", "last"]
    assert [r["runId"] for r in page["runs"]] == ran[::-1]  # newest first
    assert [r["status"] for r in page["runs"]] == ["succeeded", "failed", "succeeded"]
    failed = page["runs"][1]
    assert failed["steps"] == {"first": "succeeded", "check": "failed", "last": "upstream_failed"}
    assert list(failed["steps"]) == ["first", "check", "last"] and failed["tolerated"] == []
    assert failed["startedAt"] <= failed["finishedAt"] and failed["parentRunId"] is None
    one = server.client.get(url, params={"limit": 1, "offset": 1}).json()
    assert [r["runId"] for r in one["runs"]] == [ran[1]] and one["total"] == 3
    assert server.client.get(url, params={"offset": 3}).json()["runs"] == []
    _wait_final(server, _start(server, "nest-a"))  # nest-c runs as its grandchild
    children = server.client.get("/api/v1/workflows/nest-c/history").json()
    assert children["steps"] == ["leaf"]
    assert all(r["steps"] == {"leaf": "succeeded"} for r in children["runs"])
    assert any(r["parentRunId"] for r in children["runs"])
    for bad, status in (({"limit": 0}, 422), ({"limit": 501}, 422), ({"offset": -1}, 422)):
        response = server.client.get(url, params=bad)
        assert response.status_code == status, response.text
        assert next(iter(bad)) in response.json()["error"]
    missing = server.client.get("/api/v1/workflows/no-such-workflow/history")
    assert missing.status_code == 404 and "no-such-workflow" in missing.json()["error"]
    elsewhere = server.client.get(url, params={"file": "nope.yaml"})
    assert elsewhere.status_code == 404, elsewhere.text
    operation = server.client.get("/api/openapi.json").json()["paths"][
        "/api/v1/workflows/{name}/history"
    ]["get"]
    assert operation["summary"]
    described = {p["name"]: p.get("description") for p in operation["parameters"]}
    assert {"limit", "offset", "file"} <= set(described) and all(described.values())


def test_child_tree_at_depth_three_and_ancestors(server: Server) -> None:
    run_id = _start(server, "nest-a")
    assert _wait_final(server, run_id)["status"] == "succeeded"
    tree = server.client.get(f"/api/v1/runs/{run_id}/tree").json()
    b = tree["children"][0]
    c = b["children"][0]
    assert (b["name"], b["step"]) == ("nest-b", "call-b")
    assert (c["name"], c["step"], c["status"]) == ("nest-c", "call-c", "succeeded")
    leaf = server.client.get(f"/api/v1/runs/{c['runId']}").json()
    assert [a["name"] for a in leaf["ancestors"]] == ["nest-a", "nest-b"]
    assert leaf["parentRunId"] == b["runId"]
    children = server.client.get("/api/v1/runs", params={"workflow": "nest-c"}).json()
    assert c["runId"] in {r["runId"] for r in children["runs"]}
    roots = server.client.get("/api/v1/runs", params={"workflow": "nest-c", "roots": True})
    assert c["runId"] not in {r["runId"] for r in roots.json()["runs"]}


def test_children_of_a_fan_out_paginate_sort_and_filter(server: Server) -> None:
    run_id = _start(server, "fanout")
    run = _wait_final(server, run_id)
    assert run["status"] == "failed"  # items 3, 10, 17, 24 fail, after the others started
    url = f"/api/v1/runs/{run_id}/children"
    first = server.client.get(url, params={"limit": 10}).json()
    assert first["total"] == 30 and len(first["children"]) == 10
    assert [c["itemIndex"] for c in first["children"]] == list(range(10))
    assert first["counts"] == {"succeeded": 26, "failed": 4}
    last = server.client.get(url, params={"limit": 10, "offset": 20, "sort": "-index"}).json()
    assert [c["itemIndex"] for c in last["children"]] == list(range(9, -1, -1))
    failed = server.client.get(url, params={"status": "failed", "step": "items"}).json()
    assert [c["item"] for c in failed["children"]] == ["3", "10", "17", "24"]
    assert server.client.get(url, params={"step": "nope"}).status_code == 404
    assert server.client.get(url, params={"sort": "bogus"}).status_code == 400


def test_children_failures_first_page_on_and_count_their_own_children(server: Server) -> None:
    run_id = _start(server, "fanout")
    _wait_final(server, run_id)
    url = f"/api/v1/runs/{run_id}/children"
    first = server.client.get(url, params={"sort": "failures", "limit": 6}).json()
    assert [c["itemIndex"] for c in first["children"]] == [3, 10, 17, 24, 0, 1]
    assert first["total"] == 30 and first["counts"] == {"succeeded": 26, "failed": 4}
    rest = server.client.get(url, params={"sort": "failures", "limit": 100, "offset": 6}).json()
    assert [c["itemIndex"] for c in rest["children"]] == [
        i for i in range(2, 30) if i not in (3, 10, 17, 24)
    ]
    assert {c["childCount"] for c in first["children"] + rest["children"]} == {0}
    nested = _start(server, "nest-a")
    _wait_final(server, nested)
    (b,) = server.client.get(f"/api/v1/runs/{nested}/children").json()["children"]
    assert (b["name"], b["childCount"]) == ("nest-b", 1)


def test_the_tree_is_bounded_and_says_when_it_was_cut(server: Server) -> None:
    run_id = _start(server, "fanout")
    _wait_final(server, run_id)
    url = f"/api/v1/runs/{run_id}/tree"
    whole = server.client.get(url).json()
    assert (whole["nodes"], whole["truncated"], whole["childCount"]) == (31, False, 30)
    assert len(whole["children"]) == 30
    assert [c["itemIndex"] for c in whole["children"][:4]] == [3, 10, 17, 24]  # failures first
    per_run = server.client.get(url, params={"limit": 10}).json()
    assert (per_run["nodes"], per_run["truncated"], per_run["childCount"]) == (11, True, 30)
    assert [c["itemIndex"] for c in per_run["children"]] == [3, 10, 17, 24, 0, 1, 2, 4, 5, 6]
    few = server.client.get(url, params={"maxNodes": 5}).json()
    assert (few["nodes"], few["truncated"], len(few["children"])) == (5, True, 4)
    nested = _start(server, "nest-a")
    _wait_final(server, nested)
    cut = server.client.get(f"/api/v1/runs/{nested}/tree", params={"maxNodes": 2}).json()
    (b,) = cut["children"]
    assert (cut["nodes"], cut["truncated"], b["childCount"], b["children"]) == (2, True, 1, [])
    deep = server.client.get(f"/api/v1/runs/{nested}/tree").json()
    assert (deep["nodes"], deep["truncated"]) == (3, False)
    assert deep["children"][0]["children"][0]["childCount"] == 0
    for bad in ({"limit": 0}, {"maxNodes": 0}, {"maxNodes": 10_001}, {"limit": "many"}):
        response = server.client.get(url, params=bad)
        assert response.status_code == 422, response.text
        assert next(iter(bad)) in response.json()["error"]


def test_stop_a_running_run(server: Server) -> None:
    run_id = _start(server, "sleeper")
    _wait_step_running(server, run_id, "wait")
    stopped = server.client.post(f"/api/v1/runs/{run_id}/stop")
    assert stopped.status_code == 202, stopped.text
    assert _wait_final(server, run_id, timeout=30)["status"] == "cancelled"
    assert server.client.post(f"/api/v1/runs/{run_id}/stop").status_code == 409


def test_retry_a_failed_run_from_a_step(server: Server) -> None:
    run_id = _start(server, "flaky")
    run = _wait_final(server, run_id)
    assert run["status"] == "failed"
    assert [s["status"] for s in run["steps"]] == ["succeeded", "failed", "upstream_failed"]
    server.flag.write_text("")
    retried = server.client.post(
        f"/api/v1/runs/{run_id}/retry", json={"step": "check", "downstream": True}
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["runId"] == run_id
    again = _wait_final(server, run_id)
    assert again["status"] == "succeeded" and again["attempt"] == 2
    assert [s["status"] for s in again["steps"]] == ["succeeded"] * 3
    assert "check" in again["attempts"]
    unknown = server.client.post(f"/api/v1/runs/{run_id}/retry", json={"step": "nope"})
    assert unknown.status_code == 404


def test_retry_refuses_active_and_child_runs(server: Server) -> None:
    run_id = _start(server, "sleeper")
    _wait_step_running(server, run_id, "wait")
    assert server.client.post(f"/api/v1/runs/{run_id}/retry").status_code == 409
    server.client.post(f"/api/v1/runs/{run_id}/stop")
    _wait_final(server, run_id)
    parent = _start(server, "nest-b")
    _wait_final(server, parent)
    child = server.client.get(f"/api/v1/runs/{parent}").json()["children"][0]["runId"]
    refused = server.client.post(f"/api/v1/runs/{child}/retry")
    assert refused.status_code == 409 and "child run" in refused.json()["error"]


def test_enqueue_then_dequeue(server: Server) -> None:
    queued = server.client.post("/api/v1/workflows/hello/enqueue", json={})
    assert queued.status_code == 202
    run_id = queued.json()["runId"]
    assert server.client.get(f"/api/v1/runs/{run_id}").json()["status"] == "queued"
    listing = server.client.get("/api/v1/queues").json()["queues"]
    assert any(run_id in q["waiting"] for q in listing)
    metrics = server.client.get("/metrics").text
    assert 'plait_queue_waiting{queue="hello"} 1' in metrics
    assert server.client.post(f"/api/v1/runs/{run_id}/dequeue").status_code == 200
    assert server.client.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"
    assert server.client.post(f"/api/v1/runs/{run_id}/dequeue").status_code == 409


def test_log_ranged_reads_on_a_big_log(server: Server) -> None:
    run_id = _start(server, "biglog")
    assert _wait_final(server, run_id)["status"] == "succeeded"
    url = f"/api/v1/runs/{run_id}/steps/spew/log"
    size = sum(len(f"{i}\n") for i in range(1, 300001))
    first = server.client.get(url, params={"limit": 100}).json()
    assert first["size"] == size and first["offset"] == 0 and first["nextOffset"] == 100
    assert first["truncated"] is True and first["content"].startswith("1\n2\n3\n")
    following = server.client.get(url, params={"offset": 100, "limit": 10}).json()
    assert following["offset"] == 100 and len(following["content"]) == 10
    tail = server.client.get(url, params={"tail": 1000}).json()
    lines = tail["content"].splitlines()
    assert lines[0] == "299001" and lines[-1] == "300000" and len(lines) == 1000
    assert tail["nextOffset"] == size and tail["truncated"] is True
    head = server.client.get(url, params={"head": 5}).json()
    assert head["content"] == "1\n2\n3\n4\n5\n"
    end = server.client.get(url, params={"offset": -7}).json()
    assert end["content"] == "300000\n"
    assert server.client.get(url, params={"tail": 1, "head": 1}).status_code == 400
    assert server.client.get(url, params={"stream": "stderr"}).json()["content"] == ""
    assert server.client.get(url, params={"attempt": 9}).status_code == 404


def test_metrics_are_prometheus_text(server: Server) -> None:
    assert _wait_final(server, _start(server, "hello"))["status"] == "succeeded"
    response = server.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'status="succeeded",workflow="hello"}' in response.text
    assert "plait_runs_active " in response.text


# ---------------------------------------------------------------- live events


def _read_events(response: httpx.Response, until: Any, timeout: float) -> list[tuple[str, Any]]:
    """Read SSE events until ``until(events)`` is true (or the stream ends)."""
    events: list[tuple[str, Any]] = []
    name = None
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name:
            events.append((name, json.loads(line[len("data: ") :])))
            if until(events):
                break
        if time.monotonic() > deadline:
            break
    return events


def test_events_stream_run_status_changes(server: Server) -> None:
    seen: list[tuple[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with server.client.stream("GET", "/api/v1/events", timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            ready.set()
            seen.extend(
                _read_events(
                    response,
                    lambda events: any(
                        e[1]["name"] == "ticker" and e[1]["status"] == "succeeded" for e in events
                    ),
                    timeout=30,
                )
            )

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    time.sleep(0.5)
    run_id = _start(server, "ticker")
    listener.join(40)
    mine = [data for name, data in seen if name == "run" and data["runId"] == run_id]
    assert mine, seen
    assert mine[-1]["status"] == "succeeded"
    assert mine[-1]["steps"][0]["name"] == "tick"
    assert any(d["status"] == "running" for d in mine)


def test_events_filtered_by_run_include_descendants(server: Server) -> None:
    run_id = _start(server, "nest-a")
    with server.client.stream("GET", "/api/v1/events", params={"runId": run_id}) as response:
        events = _read_events(
            response,
            lambda evs: any(e[1]["runId"] == run_id and e[1]["status"] == "succeeded" for e in evs),
            timeout=30,
        )
    names = {data["name"] for _, data in events}
    assert events[0][1]["runId"] == run_id  # the current state comes first
    assert names <= {"nest-a", "nest-b", "nest-c"}
    assert server.client.get("/api/v1/events", params={"runId": "nope"}).status_code == 404


def test_log_stream_follows_a_running_step_to_its_end(server: Server) -> None:
    run_id = _start(server, "ticker")
    _wait_step_running(server, run_id, "tick")
    url = f"/api/v1/runs/{run_id}/steps/tick/log/stream"
    with server.client.stream("GET", url) as response:
        events = _read_events(response, lambda evs: evs[-1][0] == "end", timeout=30)
    text = "".join(data["content"] for name, data in events if name == "log")
    assert text.splitlines() == [f"tick {i}" for i in range(1, 7)]
    assert events[-1] == ("end", {"status": "succeeded", "offset": len(text.encode())})
    assert sum(1 for name, _ in events if name == "log") >= 2  # it arrived as it grew


# ---------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/workflows/nope", 404),
        ("GET", "/api/v1/workflows/nope/spec", 404),
        ("POST", "/api/v1/workflows/nope/start", 404),
        ("GET", "/api/v1/workflows/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/api/v1/workflows/..%2F..%2Fetc%2Fpasswd/spec", 404),
        ("GET", "/api/v1/workflows/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/spec", 404),
        ("GET", "/api/v1/workflows/%2Fetc%2Fpasswd/spec", 404),
        ("GET", "/api/v1/workflows/passwd/spec", 404),
        ("GET", "/api/v1/runs/nope", 404),
        ("GET", "/api/v1/runs/nope/tree", 404),
        ("GET", "/api/v1/runs/nope/children", 404),
        ("POST", "/api/v1/runs/nope/stop", 404),
        ("POST", "/api/v1/runs/nope/retry", 404),
        ("POST", "/api/v1/runs/nope/dequeue", 404),
        ("GET", "/api/v1/runs/nope/steps/a/log", 404),
        ("GET", "/api/v1/runs?status=bogus", 400),
        ("GET", "/api/v1/runs?from=yesterday", 400),
        ("GET", "/api/v1/runs?limit=0", 422),
        ("GET", "/api/v1/nothing-here", 404),
    ],
)
def test_bad_requests_get_a_json_4xx(server: Server, method: str, path: str, status: int) -> None:
    response = server.client.request(method, path)
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_path_traversal_never_reads_outside_the_dags_folder(server: Server) -> None:
    secret = server.dags.parent / "secret.yaml"
    secret.write_text("name: secret\nsteps:\n  - name: s\n    command: echo secret\n")
    for raw in (
        "/api/v1/workflows/..%2Fsecret/spec",
        "/api/v1/workflows/..%2Fsecret.yaml/spec",
        "/api/v1/workflows/%2E%2E%2Fsecret/spec",
        "/api/v1/workflows/..%5Csecret/spec",
    ):
        response = httpx.get(server.url + raw)
        assert response.status_code in (400, 404), (raw, response.text)
        assert "echo secret" not in response.text


def test_unknown_step_and_malformed_params(server: Server) -> None:
    run_id = _start(server, "nest-c")
    _wait_final(server, run_id)
    missing = server.client.get(f"/api/v1/runs/{run_id}/steps/nope/log")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad = server.client.post("/api/v1/workflows/hello/start", json={"params": "A='unclosed"})
    assert bad.status_code == 400 and "params" in bad.json()["error"]
    bad_name = server.client.post("/api/v1/workflows/hello/start", json={"params": {"a b": 1}})
    assert bad_name.status_code == 400
    not_json = server.client.post(
        "/api/v1/workflows/hello/start",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422 and not_json.json()["error"]
    broken = server.client.post("/api/v1/workflows/broken/start")
    assert broken.status_code == 422 and broken.json()["problems"][0]["line"] == 4


def test_state_changes_need_the_csrf_header(server: Server) -> None:
    plain = httpx.post(server.url + "/api/v1/workflows/hello/start", json={})
    assert plain.status_code == 403
    assert "X-Plait-Request" in plain.json()["error"]
    assert httpx.get(server.url + "/api/v1/workflows").status_code == 200


def test_the_start_path_never_imports_the_web_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from plait.cli.main import main\n"
        "code = main(['start', '-q', sys.argv[1]])\n"
        "web = ('fastapi', 'starlette', 'uvicorn', 'plait.api')\n"
        "loaded = [m for m in web if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    flow = tmp_path / "one.yaml"
    flow.write_text("name: one\nsteps:\n  - name: a\n    command: 'true'\n")
    env = {**os.environ, "PLAIT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(flow)], capture_output=True, text=True, env=env
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_a_failed_runs_first_failure_is_found_however_deep(server: Server) -> None:
    run_id = _start(server, "deep-fail")
    final = _wait_final(server, run_id)
    assert final["status"] == "partially_succeeded", final
    first = final["firstFailure"]
    assert first["name"] == "deep-leaf" and first["step"] == "check" and first["depth"] == 2
    assert first["error"] == "exit code 9"
    leaf = server.client.get(f"/api/v1/runs/{first['runId']}").json()
    middle = server.client.get(f"/api/v1/runs/{leaf['parentRunId']}").json()
    assert middle["itemIndex"] == 1  # the first item that failed, not a later one
    assert leaf["firstFailure"]["depth"] == 0  # a run that failed in itself
    assert (
        "firstFailure"
        not in server.client.get(
            f"/api/v1/runs/{_wait_final(server, _start(server, 'hello'))['runId']}"
        ).json()
    )


def test_a_list_of_runs_counts_each_status_the_other_filters_match(server: Server) -> None:
    _wait_final(server, _start(server, "hello"))
    _wait_final(server, _start(server, "deep-fail"))  # partially succeeded
    everything = server.client.get("/api/v1/runs", params={"limit": 1}).json()
    counts = everything["counts"]
    assert len(everything["runs"]) == 1 and everything["total"] == sum(counts.values()) > 1
    assert counts["succeeded"] >= 1 and counts["partially_succeeded"] >= 1
    partial = {"status": "partially_succeeded", "limit": 1}
    some = server.client.get("/api/v1/runs", params=partial).json()
    # the chips: every status the other filters match, not only the one asked for
    assert {"succeeded", "partially_succeeded"} <= set(some["counts"])
    assert some["total"] == some["counts"]["partially_succeeded"]
    mine = server.client.get("/api/v1/runs", params={"workflow": "hello"}).json()
    assert set(mine["counts"]) <= set(counts) and sum(mine["counts"].values()) == mine["total"]


def test_a_run_started_without_waiting_is_linked_both_ways(server: Server) -> None:
    (server.dags / "detached-child.yaml").write_text(
        "name: detached-child\nsteps:\n  - name: work\n    command: echo done\n"
    )
    (server.dags / "detached-parent.yaml").write_text(
        "name: detached-parent\nsteps:\n  - name: kick\n    run: detached-child\n    wait: false\n"
    )
    parent_id = _start(server, "detached-parent")
    parent = _wait_final(server, parent_id)
    assert parent["status"] == "succeeded", parent
    child_id = parent["steps"][0]["output"]
    child = _wait_final(server, child_id)
    assert child["status"] == "succeeded"
    assert child["startedBy"] == {"runId": parent_id, "step": "kick", "name": "detached-parent"}
    again = server.client.get(f"/api/v1/runs/{parent_id}").json()
    assert again["started"] == [
        {"runId": child_id, "step": "kick", "name": "detached-child", "status": "succeeded"}
    ]
    assert again["startedBy"] is None and again["children"] == []


def test_a_stop_with_started_stops_the_runs_it_started_and_a_plain_stop_does_not(
    server: Server,
) -> None:
    (server.dags / "held-child.yaml").write_text(
        "name: held-child\nsteps:\n  - name: work\n    command: sleep 60\n"
    )
    (server.dags / "held-parent.yaml").write_text(
        "name: held-parent\nsteps:\n  - name: kick\n    run: held-child\n    wait: false\n"
        "  - name: hold\n    command: sleep 60\n    depends: kick\n"
    )

    def running_child(parent_id: str) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = server.client.get(f"/api/v1/runs/{parent_id}").json()["started"]
            if started and started[0]["status"] == "running":
                return str(started[0]["runId"])
            time.sleep(0.1)
        raise AssertionError("the started run never ran")

    first = _start(server, "held-parent")
    child = running_child(first)
    plain = server.client.post(f"/api/v1/runs/{first}/stop")
    assert plain.status_code == 202 and plain.json()["startedStopped"] == []
    assert _wait_final(server, first)["status"] == "cancelled"
    assert server.client.get(f"/api/v1/runs/{child}").json()["status"] == "running"
    # the parent has ended: asking with started=true still stops what it started
    late = server.client.post(f"/api/v1/runs/{first}/stop", params={"started": "true"})
    assert late.status_code == 202, late.text
    assert late.json()["startedStopped"] == [child] and late.json()["stopRequested"] is False
    assert _wait_final(server, child)["status"] == "cancelled"
    assert server.client.post(f"/api/v1/runs/{first}/stop?started=true").status_code == 409
    second = _start(server, "held-parent")
    other = running_child(second)
    both = server.client.post(f"/api/v1/runs/{second}/stop?started=true")
    assert both.status_code == 202 and both.json()["startedStopped"] == [other]
    assert _wait_final(server, second)["status"] == "cancelled"
    assert _wait_final(server, other)["status"] == "cancelled"


def test_pause_and_resume_a_schedule_and_a_queue(server: Server) -> None:
    (server.dags / "paused-cron.yaml").write_text(
        "name: paused-cron\nqueue: api-held\nschedule: '0 3 * * *'\nsteps:\n  - command: 'true'\n"
    )
    paused = server.client.post("/api/v1/workflows/paused-cron/schedule/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["changed"] is True
    schedules = server.client.get("/api/v1/schedules").json()["schedules"]
    entry = next(s for s in schedules if s["name"] == "paused-cron")
    assert entry["paused"] is True and entry["schedule"] == ["0 3 * * *"]
    assert server.client.post("/api/v1/workflows/nowhere/schedule/pause").status_code == 404
    skipped = server.client.get("/api/v1/workflows/paused-cron/schedule/skipped?limit=5")
    assert skipped.json() == {"name": "paused-cron", "skipped": []}
    assert server.client.get("/api/v1/workflows/nowhere/schedule/skipped").status_code == 404
    too_many = server.client.get("/api/v1/workflows/paused-cron/schedule/skipped?limit=2001")
    assert too_many.status_code == 422
    assert server.client.post("/api/v1/workflows/paused-cron/schedule/stop").status_code == 422
    assert server.client.post("/api/v1/queues/api-held/pause").json()["paused"] is True
    run_id = _start(server, "paused-cron")
    queues = server.client.get("/api/v1/queues").json()["queues"]
    held = next(q for q in queues if q["name"] == "api-held")
    assert held["paused"] is True
    assert server.client.get(f"/api/v1/runs/{run_id}").json()["waitingReason"] == (
        "queue api-held is paused"
    )
    resumed = server.client.post("/api/v1/queues/api-held/resume")
    assert resumed.json() == {
        "name": "api-held",
        "paused": False,
        "pausedAt": None,
        "changed": True,
    }
    assert _wait_final(server, run_id)["status"] == "succeeded"
    assert (
        server.client.post("/api/v1/workflows/paused-cron/schedule/resume").json()["paused"]
        is False
    )
