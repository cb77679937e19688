"""A fan-out's result as ``JsonText``: a path into it reads only the member (and element) it
names, and gives exactly what parsing the whole text would give."""

from __future__ import annotations

import json
import random

from plait.expr import JsonText, expand
from plait.runtime.children import _result_text

SEED = 20261202


def _result(count: int, rng: random.Random) -> tuple[JsonText, str]:
    values = ["plain", "é ü 雪", 'q"uo\\te', "$(touch /tmp/x) `id`", "", "1e5", "[1, 2]"]
    entries, outputs = [], []
    for index in range(count):
        out = {"OUT": rng.choice(values), "N": rng.randint(-5, 10**6), "F": 0.1 * index}
        if index % 3 == 0:
            out["NESTED"] = {"list": [rng.choice(values), None, True], "x": {"y": index}}
        entry = {
            "name": "item",
            "runId": f"id-{index}",
            "params": {"X": rng.choice(values)},
            "status": rng.choice(["succeeded", "failed", "not_started"]),
            "outputs": out,
        }
        entries.append(json.dumps(entry, ensure_ascii=False))
        outputs.append(json.dumps(out, ensure_ascii=False))
    summary = json.dumps({"total": count, "succeeded": 1, "failed": 2})
    text = _result_text(summary, entries, outputs)
    return text, str(text)  # str(): a plain copy, looked into by parsing it whole


def test_paths_into_a_fan_out_result_read_its_parts_as_parsing_it_would() -> None:
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    for count in (0, 1, 7):
        known, plain = _result(count, rng)
        assert type(plain) is str
        assert json.loads(known) == json.loads(plain)
        paths = [".summary", ".summary.total", ".summary.nope", ".results", ".outputs", ".nope"]
        for index in [*range(-count - 1, count + 1), 99]:
            for member in ("results", "outputs"):
                paths += [f".{member}[{index}]", f".{member}.{abs(index)}"]
                paths += [f".{member}[{index}].outputs.OUT", f".{member}[{index}].OUT"]
                paths += [f".{member}.{abs(index)}.NESTED.list[0]", f".{member}[{index}].N"]
                paths += [f".{member}[{index}].outputs.NESTED.x.y", f".{member}[{index}].F"]
                paths += [f".{member}[{index}].status", f".{member}[{index}].params.X"]
        for path in paths:
            reference = "${R" + path + "}"
            assert expand(reference, {"R": known}) == expand(reference, {"R": plain}), path
            cut = "${R" + path + ":2:3}"
            assert expand(cut, {"R": known}) == expand(cut, {"R": plain}), path


def test_a_path_into_the_result_does_not_parse_the_whole_of_it() -> None:
    rng = random.Random(SEED)
    known, _ = _result(3, rng)
    # a text whose other members are not JSON at all: a path that parsed them would fail
    start, end = known.members["outputs"]
    broken = JsonText(
        "x" * start + known[start:end] + "y" * (len(known) - end),
        dict(known.members),
        dict(known.elements),
    )
    assert json.loads(expand("${R.outputs}", {"R": broken})) == json.loads(known)["outputs"]
    first = json.loads(known)["outputs"][2]["OUT"]
    assert expand("${R.outputs[2].OUT}", {"R": broken}) == first
