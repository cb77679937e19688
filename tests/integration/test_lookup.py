"""A workflow's name finds the same file everywhere: the CLI, the API (and so the UI), and
``run:``: the file ``<name>.yaml`` first, then the workflow whose ``name:`` it is."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.servers import plait_server


def _folder(dags: Path) -> None:
    dags.mkdir(parents=True, exist_ok=True)
    # a.yaml's workflow is called "b"; b.yaml's is called "c"
    (dags / "a.yaml").write_text("name: b\nsteps:\n  - name: s\n    command: echo from-a\n")
    (dags / "b.yaml").write_text("name: c\nsteps:\n  - name: s\n    command: echo from-b\n")
    (dags / "parent.yaml").write_text("steps:\n  - name: call\n    run: b\n")


def test_cli_api_and_children_pick_the_same_file(cli, home: Path, tmp_path: Path) -> None:
    dags = home / "dags"
    _folder(dags)
    for target, file in (("b", "b.yaml"), ("c", "b.yaml"), ("a", "a.yaml")):
        result = cli("start", "-q", target)
        assert result.code == 0, result.err
        record = json.loads(cli("status", "--json", target).out)
        assert Path(record["source"]).name == file, (target, record)
    parent = cli("start", "-q", "parent")
    assert parent.code == 0, parent.err
    record = json.loads(cli("status", "--json", "parent").out)
    (child,) = record["children"]
    child_record = json.loads(cli("status", "--json", "--run-id", child["runId"]).out)
    assert Path(child_record["source"]).name == "b.yaml"
    with plait_server(tmp_path, dags) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        for target, file in (("b", "b.yaml"), ("c", "b.yaml")):
            body = client.get(f"/api/v1/workflows/{target}").json()
            assert body["path"] == file, (target, body)
        listed = {w["path"]: w["name"] for w in client.get("/api/v1/workflows").json()["workflows"]}
        assert listed["a.yaml"] == "b" and listed["b.yaml"] == "c"
        # the listing's a.yaml is reached with its file named
        assert (
            client.get("/api/v1/workflows/b", params={"file": "a.yaml"}).json()["path"] == "a.yaml"
        )
