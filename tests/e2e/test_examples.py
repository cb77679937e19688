"""Every example of ``examples/`` runs end to end through the installed command.

Each example is started as a subprocess (``python -m plait start``) with the examples folder
as the DAGs folder, must exit 0, and leaves a run record whose contents show that the
pattern of ``spec/advanced-patterns.md`` it illustrates really happened.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, Result

EXAMPLES = ROOT / "examples"
ENV = {"PLAIT_DAGS_DIR": str(EXAMPLES)}

Run = Callable[..., Result]


def _status(plait_bin: Run, *args: str) -> dict:  # type: ignore[type-arg]
    result = plait_bin("status", *args, "--json", env=ENV)
    assert result.code == 0, result.err
    return json.loads(result.out)


def _steps(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {step["name"]: step for step in record["steps"]}


def _children(record: dict, step: str) -> list[dict]:  # type: ignore[type-arg]
    found = [child for child in record["children"] if child["step"] == step]
    return sorted(found, key=lambda c: -1 if c["itemIndex"] is None else c["itemIndex"])


def check_hello(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    assert record["params"] == {"NAME": "world"}
    assert record["outputs"] == {"GREETING": "Hello, world!", "SHOUTED": "HELLO, WORLD!"}


def check_data_pipeline(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    runs = {}
    for step in ("extract", "transform", "load"):
        (child,) = _children(record, step)
        assert child["status"] == "succeeded"
        runs[step] = _status(plait_bin, "--run-id", child["runId"])
    assert runs["extract"]["params"] == {"SOURCE": "production"}
    assert runs["extract"]["outputs"] == {"DATA": "rows-from-production"}
    # transform got extract's result JSON, load got transform's result JSON.
    given = json.loads(runs["transform"]["params"]["INPUT"])
    assert given["runId"] == runs["extract"]["runId"]
    assert given["outputs"] == {"DATA": "rows-from-production"}
    data = json.loads(runs["load"]["params"]["DATA"])
    assert data == {
        "name": "transform",
        "runId": runs["transform"]["runId"],
        "params": runs["transform"]["params"],
        "status": "succeeded",
        "outputs": {"DATA": "transformed(rows-from-production)"},
    }
    assert runs["load"]["outputs"]["LOADED"] == (
        f"loaded transformed(rows-from-production) from run {runs['transform']['runId']}"
    )


def check_multi_env(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    build = json.loads(record["outputs"]["BUILD_ARTIFACT"])
    assert build["name"] == "build"
    assert build["outputs"] == {"ARTIFACT": "app-latest.tar.gz"}
    deployments = _children(record, "deploy-environments")
    assert [c["item"] for c in deployments] == ["dev", "staging", "prod"]
    assert [c["itemIndex"] for c in deployments] == [0, 1, 2]
    assert {c["name"] for c in deployments} == {"environment"}
    for env, child in zip(["dev", "staging", "prod"], deployments, strict=True):
        run = _status(plait_bin, "--run-id", child["runId"])
        assert run["params"]["ENV"] == env
        assert run["params"]["VERSION"] == "latest"
        assert json.loads(run["params"]["ARTIFACT"]) == build
        assert run["outputs"] == {"DEPLOYED": f"deployed app-latest.tar.gz (latest) to {env}"}
        assert run["parentRunId"] == record["runId"] == run["rootRunId"]
        assert run["parentStep"] == "deploy-environments"


def check_sharing_data(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    assert record["name"] == "sharing-data"
    prepared = json.loads(record["outputs"]["PREPARED_DATA"])
    assert prepared["name"] == "child-workflow"
    assert prepared["params"] == {"DATASET": "customers"}
    path = prepared["outputs"]["FILE_PATH"]
    assert path.endswith("customers.csv")
    assert not Path(path).is_relative_to(ROOT)
    assert record["outputs"]["PROCESSED"] == f"3 lines in {path}"


def check_dynamic_processor(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    tasks = json.loads(record["outputs"]["TASK_LIST"])
    assert [Path(t).name for t in tasks] == ["feb.csv", "jan.csv", "mar.csv"]
    children = _children(record, "process-dynamic")
    assert [c["item"] for c in children] == tasks
    # maxConcurrent: 1 — one CSV at a time.
    for before, after in itertools.pairwise(children):
        assert before["finishedAt"] <= after["startedAt"]
    rows = [_status(plait_bin, "--run-id", c["runId"])["outputs"]["ROWS"] for c in children]
    assert rows == ["feb.csv 2", "jan.csv 1", "mar.csv 3"]


def check_map_reduce(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    chunks = json.loads(record["outputs"]["CHUNKS"])
    assert len(chunks) == 10
    results = json.loads(record["outputs"]["MAP_RESULTS"])
    assert results["summary"] == {"total": 10, "succeeded": 10, "failed": 0}
    names = [Path(chunk).name for chunk in chunks]
    assert [o["SIZE"].split()[0] for o in results["outputs"]] == names
    total = sum(int(o["SIZE"].split()[1]) for o in results["outputs"])
    # The reduce step parsed '${MAP_RESULTS.outputs}' as JSON, in item order.
    assert record["outputs"]["REDUCED"] == f"{','.join(names)} {total}"
    # maxConcurrent: 3
    children = _children(record, "map-phase")
    assert len(children) == 10
    assert _max_overlap(children) <= 3


def check_fork_join(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    steps = _steps(record)
    branches = [steps[n] for n in ("statistical-analysis", "ml-analysis", "visualization")]
    assert max(s["startedAt"] for s in branches) < min(s["finishedAt"] for s in branches), (
        "the three branches did not overlap"
    )
    assert steps["prepare"]["finishedAt"] <= min(s["startedAt"] for s in branches)
    assert steps["generate-report"]["startedAt"] >= max(s["finishedAt"] for s in branches)
    assert record["outputs"]["REPORT"] == (
        "--stats=stats-dataset.csv --ml=ml-dataset.csv --charts=charts-dataset.csv"
    )


def check_scatter_gather(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    regions = ["us-east-1", "eu-west-1", "ap-south-1"]
    counts = {r: sum(map(ord, r)) % 100 for r in regions}
    data = json.loads(record["outputs"]["REGIONAL_DATA"])
    assert [o["REGION_NAME"] for o in data["outputs"]] == regions
    assert [r["params"] for r in data["results"]] == [{"REGION": r} for r in regions]
    expected = " ".join(f"{r}={n}" for r, n in counts.items())
    assert record["outputs"]["SUMMARY"] == f"{expected} total={sum(counts.values())}"


def check_resource_aware(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    assert record["params"] == {"FILE_LIST": '["a.txt","b.txt","c.txt"]'}
    ordered = sorted(record["steps"], key=lambda s: s["startedAt"])
    for before, after in itertools.pairwise(ordered):  # maxActiveSteps: 1
        assert before["finishedAt"] <= after["startedAt"]
    items = _children(record, "io-intensive")
    assert [c["item"] for c in items] == ["a.txt", "b.txt", "c.txt"]
    assert {c["status"] for c in items} == {"succeeded"}
    log = plait_bin("logs", "--run-id", items[1]["runId"], "--step", "io-intensive", env=ENV)
    assert log.code == 0, log.err
    assert log.out == "processed b.txt\n"


def check_queue_managed(plait_bin: Run, record: dict) -> None:  # type: ignore[type-arg]
    steps = _steps(record)
    assert steps["resource-heavy"]["status"] == "succeeded"
    assert steps["light-task"]["status"] == "succeeded"


def _max_overlap(runs: list[dict]) -> int:  # type: ignore[type-arg]
    events = sorted(
        [(r["startedAt"], 1) for r in runs] + [(r["finishedAt"], -1) for r in runs],
        key=lambda e: (e[0], e[1]),
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


CASES = {
    "hello": ("hello", check_hello),
    "data-pipeline": ("data-pipeline", check_data_pipeline),
    "multi-env-deployment": ("multi-env-deployment", check_multi_env),
    "sharing-data": ("sharing-data", check_sharing_data),
    "dynamic-processor": ("dynamic-processor", check_dynamic_processor),
    "map-reduce": ("map-reduce-aggregation", check_map_reduce),
    "fork-join": ("fork-join-analysis", check_fork_join),
    "scatter-gather": ("scatter-gather", check_scatter_gather),
    "resource-aware-pipeline": ("resource-aware-pipeline", check_resource_aware),
    "queue-managed-workflow": ("queue-managed-workflow", check_queue_managed),
}


def test_every_top_level_example_has_a_test() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("example", sorted(CASES))
def test_example_runs_end_to_end(plait_bin: Run, example: str) -> None:
    name, check = CASES[example]
    before = sorted(str(p) for p in EXAMPLES.rglob("*"))
    result = plait_bin("start", EXAMPLES / f"{example}.yaml", env=ENV)
    assert result.code == 0, result.out + result.err
    assert "Traceback" not in result.err
    record = _status(plait_bin, name)
    assert record["name"] == name
    assert record["status"] == "succeeded"
    assert {step["status"] for step in record["steps"]} == {"succeeded"}
    check(plait_bin, record)
    assert sorted(str(p) for p in EXAMPLES.rglob("*")) == before, "the example wrote into the repo"


def test_every_example_validates(plait_bin: Run) -> None:
    files = sorted(EXAMPLES.rglob("*.yaml"))
    result = plait_bin("validate", *files, env=ENV)
    assert result.code == 0, result.err
    assert result.out.count(": ok (") == len(files)
