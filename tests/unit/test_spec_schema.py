"""The JSON Schema: generated from the field tables, accepts the spec's examples, rejects typos."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml

from plait.spec import json_schema, load_text
from plait.spec.fields import STEP, WORKFLOW

jsonschema = pytest.importorskip("jsonschema")

# Every YAML example of spec/advanced-patterns.md (the reference dialect), verbatim.
SPEC_EXAMPLES = [
    """\
# main.yaml
name: data-pipeline
steps:
  - name: extract
    run: workflows/extract.yaml
    params: "SOURCE=production"

  - name: transform
    run: workflows/transform.yaml
    params: "INPUT=${extract.output}"

  - name: load
    run: workflows/load.yaml
    params: "DATA=${transform.output}"
""",
    """\
# deployment-orchestrator.yaml
name: multi-env-deployment
params:
  - VERSION: latest
  - ENVIRONMENTS: '["dev", "staging", "prod"]'

steps:
  - name: build
    run: ci/build
    params: "VERSION=${VERSION}"
    output: BUILD_ARTIFACT

  - name: deploy-environments
    run: deploy/environment
    parallel: ${ENVIRONMENTS}
    params: |
      ENV=${ITEM}
      ARTIFACT=${BUILD_ARTIFACT}
      VERSION=${VERSION}
""",
    """\
steps:
  - name: prepare-data
    run: child-workflow
    params: "DATASET=customers"
    output: PREPARED_DATA

  - name: process
    command: python process.py --input=${PREPARED_DATA.outputs.FILE_PATH}

---
name: child-workflow
params:
  - DATASET: ""
steps:
  - name: extract
    command: extract.sh ${DATASET}
    output: FILE_PATH
""",
    """\
name: dynamic-processor
steps:
  - name: discover-tasks
    command: |
      # Discover files to process
      find /data -name "*.csv" -type f | jq -R -s -c 'split("\\n")[:-1]'
    output: TASK_LIST

  - name: process-dynamic
    run: processors/csv-handler
    parallel:
      items: ${TASK_LIST}
      maxConcurrent: 1
    params: "FILE=${ITEM}"
""",
    """\
name: map-reduce-aggregation
steps:
  - name: split-data
    command: |
      split -n 10 large-file.txt chunk_
      ls chunk_* | jq -R -s -c 'split("\\n")[:-1]'
    output: CHUNKS

  - name: map-phase
    run: mappers/process-chunk
    parallel:
      items: ${CHUNKS}
      maxConcurrent: 3
    params: "CHUNK=${ITEM}"
    output: MAP_RESULTS

  - name: reduce-phase
    command: |
      python reduce.py \\
        --inputs='${MAP_RESULTS.outputs}' \\
        --output=final-result.json
""",
    """\
name: fork-join-analysis
steps:
  - name: prepare
    command: ./prepare-dataset.sh
    output: DATASET

  # Fork: Parallel analysis
  - name: statistical-analysis
    command: python stats.py ${DATASET}
    depends: prepare
    output: STATS

  - name: ml-analysis
    command: python ml_model.py ${DATASET}
    depends: prepare
    output: ML_RESULTS

  - name: visualization
    command: python visualize.py ${DATASET}
    depends: prepare
    output: CHARTS

  # Join: Combine results
  - name: generate-report
    command: |
      python generate_report.py \\
        --stats=${STATS} \\
        --ml=${ML_RESULTS} \\
        --charts=${CHARTS}
    depends:
      - statistical-analysis
      - ml-analysis
      - visualization
""",
    """\
name: scatter-gather
params:
  - REGIONS: '["us-east-1", "eu-west-1", "ap-south-1"]'

steps:
  - name: scatter-requests
    run: regional/data-collector
    parallel: ${REGIONS}
    params: "REGION=${ITEM}"
    output: REGIONAL_DATA

  - name: gather-results
    command: |
      python aggregate_regional.py \\
        --data='${REGIONAL_DATA.outputs}' \\
        --output=global-summary.json
""",
    """\
name: resource-aware-pipeline
maxActiveRuns: 1        # Only one instance of this DAG
maxActiveSteps: 1       # Max 1 steps running concurrently

steps:
  - name: cpu-intensive
    command: ./heavy-computation.sh

  - name: memory-intensive
    command: ./process-large-data.sh

  - name: io-intensive
    parallel:
      items: ${FILE_LIST}
      maxConcurrent: 3  # Limit parallel I/O
    command: ./process-file.sh ${ITEM}
""",
    """\
name: queue-managed-workflow
queue: heavy-jobs       # Assign to specific queue
maxActiveRuns: 2        # Queue allows 2 concurrent

steps:
  - name: resource-heavy
    command: ./intensive-task.sh

  - name: light-task
    command: echo "Quick task"
""",
]


def validator() -> Any:
    schema = json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def documents(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


@pytest.mark.parametrize("example", SPEC_EXAMPLES)
def test_schema_accepts_every_spec_example(example: str) -> None:
    check = validator()
    for document in documents(example):
        errors = [e.message for e in check.iter_errors(document)]
        assert errors == []


@pytest.mark.parametrize("example", SPEC_EXAMPLES)
def test_loader_accepts_every_spec_example(example: str) -> None:
    assert load_text(example, "/specs/example.yaml").steps


def test_schema_rejects_an_unknown_key() -> None:
    check = validator()
    document = {"name": "w", "steps": [{"name": "a", "command": "x", "dependz": "b"}]}
    assert not check.is_valid(document)
    assert not check.is_valid({"name": "w", "stepz": [], "steps": [{"name": "a", "command": "x"}]})


def test_schema_accepts_both_spellings_and_aliases() -> None:
    check = validator()
    text = textwrap.dedent(
        """\
        max_active_runs: 2
        handler_on:
          abort: {command: echo}
        steps:
          - name: a
            call: child
            working_dir: /tmp
            retry_policy: {limit: 1, interval_sec: 2}
            continue_on: failed
            precondition: test -f x
        """
    )
    assert [e.message for e in check.iter_errors(yaml.safe_load(text))] == []


def test_every_field_is_in_the_schema_with_a_description() -> None:
    schema = json_schema()
    step = schema["definitions"]["step"]  # type: ignore[index]
    for table, body in ((WORKFLOW, schema), (STEP, step)):
        properties = body["properties"]
        assert body["additionalProperties"] is False
        for field in table.fields:
            for spelling in field.spellings:
                assert properties[spelling]["description"] == field.description


def test_schema_types_catch_wrong_values() -> None:
    check = validator()
    assert not check.is_valid({"steps": [{"name": "a", "command": "x", "timeoutSec": "abc"}]})
    assert not check.is_valid({"steps": [{"name": "a", "command": "x", "timeoutSec": -1}]})
    assert not check.is_valid({"type": "agent", "steps": [{"name": "a", "command": "x"}]})
    assert check.is_valid({"steps": [{"command": "x"}]})  # named by position
    assert not check.is_valid({"steps": []})


def test_schema_is_json() -> None:
    assert json.loads(json.dumps(json_schema()))["title"] == "plait workflow"
