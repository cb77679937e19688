"""Traces of runs in OpenTelemetry: the span tree of a real run (steps, a retry, a child
workflow fanned out over two items), read from the SDK's in-memory exporter in this process;
and spans sent by a real ``plait start`` to an OTLP/HTTP receiver on loopback, whose step sees
the trace context of its attempt."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.util._once import Once

from tests.cluster import wait_for

TREE = """
name: traced
steps:
  - name: first
    command: echo first
  - name: flaky
    command: test -f {flag} || {{ touch {flag}; exit 7; }}
    retryPolicy: {{limit: 2, intervalSec: 0}}
  - name: fan
    run: item
    parallel: {{items: [a, b]}}
    params: "X=${{ITEM}}"
---
name: item
params: [X=none]
steps:
  - name: say
    command: echo ${{X}}
"""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """This process traces (as a program that set up OpenTelemetry itself): every span
    ended goes to the exporter at once. Undone after the test, so that no other test of
    this process is traced."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    own = parent.context.span_id  # type: ignore[union-attr]
    return [s for s in spans if s.parent is not None and s.parent.span_id == own]


def _names(spans: list[ReadableSpan]) -> list[str]:
    return sorted(s.name for s in spans)


def test_a_run_is_one_trace_of_steps_attempts_and_child_runs(
    cli: Any, write: Any, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    path = write("traced.yaml", TREE.format(flag=tmp_path / "flag"))
    result = cli("start", "-q", path)
    assert result.code == 0, result.err

    ended = list(spans.get_finished_spans())
    assert len({s.context.trace_id for s in ended}) == 1  # type: ignore[union-attr]
    (root,) = [s for s in ended if s.parent is None]
    assert root.name == "run traced"
    assert root.attributes is not None and root.attributes["plait.run.status"] == "succeeded"
    steps = {s.name: s for s in _children(ended, root)}
    assert sorted(steps) == ["step fan", "step first", "step flaky"]

    flaky = steps["step flaky"]
    assert flaky.attributes is not None and flaky.attributes["plait.step.attempts"] == 2
    first, second = sorted(_children(ended, flaky), key=lambda s: s.name)
    assert (first.name, second.name) == ("attempt 1", "attempt 2")
    assert first.attributes is not None and first.attributes["process.exit.code"] == 7
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "exit code 7"
    assert [e.name for e in first.events] == ["exception"]
    assert second.status.status_code is not StatusCode.ERROR
    assert second.attributes is not None and second.attributes["process.exit.code"] == 0

    (fan_attempt,) = _children(ended, steps["step fan"])
    items = _children(ended, fan_attempt)
    assert _names(items) == ["run item", "run item"]
    assert sorted(s.attributes["plait.item_index"] for s in items if s.attributes) == [0, 1]
    for item in items:
        (say,) = _children(ended, item)
        assert say.name == "step say"
        assert _names(_children(ended, say)) == ["attempt 1"]
        assert (
            item.attributes is not None
            and item.attributes["plait.root_run.id"] == (root.attributes["plait.run.id"])
        )


DEEP = """
name: root
steps:
  - name: to-b
    run: b
---
name: b
steps:
  - name: to-c
    run: c
  - name: fan
    run: item
    parallel: {{items: [x, y]}}
    params: "X=${{ITEM}}"
---
name: c
steps:
  - name: deepest
    command: echo "$TRACEPARENT" >> {seen}; test -f {flag} || {{ touch {flag}; exit 7; }}
    retryPolicy: {{limit: 2, intervalSec: 0}}
---
name: item
params: [X=none]
steps:
  - name: say
    command: echo ${{X}}
"""


def _only(spans: list[ReadableSpan], parent: ReadableSpan, name: str) -> ReadableSpan:
    """The one child of ``parent`` called ``name``."""
    (found,) = [s for s in _children(spans, parent) if s.name == name]
    return found


def test_child_runs_at_every_depth_hang_under_the_attempt_that_started_them(
    cli: Any, write: Any, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    seen = tmp_path / "traceparents"
    path = write("deep.yaml", DEEP.format(seen=seen, flag=tmp_path / "flag"))
    result = cli("start", "-q", path)
    assert result.code == 0, result.err

    ended = list(spans.get_finished_spans())
    assert len({s.context.trace_id for s in ended}) == 1  # type: ignore[union-attr]
    (root,) = [s for s in ended if s.parent is None]
    assert root.name == "run root"

    # run(root) -> step -> attempt -> run(b) -> step -> attempt -> run(c) -> step -> attempts
    to_b = _only(ended, _only(ended, root, "step to-b"), "attempt 1")
    b = _only(ended, to_b, "run b")
    to_c = _only(ended, _only(ended, b, "step to-c"), "attempt 1")
    c = _only(ended, to_c, "run c")
    deepest = _only(ended, c, "step deepest")
    assert _names(_children(ended, deepest)) == ["attempt 1", "attempt 2"]
    first, second = _only(ended, deepest, "attempt 1"), _only(ended, deepest, "attempt 2")
    assert first.attributes is not None and first.attributes["process.exit.code"] == 7
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes is not None and second.attributes["process.exit.code"] == 0
    assert second.status.status_code is not StatusCode.ERROR
    assert deepest.attributes is not None and deepest.attributes["plait.step.attempts"] == 2
    run_id = root.attributes["plait.run.id"] if root.attributes else None
    for depth, run in enumerate([root, b, c]):
        assert run.attributes is not None
        assert run.attributes["plait.run.depth"] == depth
        assert run.attributes["plait.root_run.id"] == run_id
        assert run.attributes["plait.run.status"] == "succeeded"

    # the fan-out of b: each item's run under the attempt of the fan-out step
    fan = _only(ended, _only(ended, b, "step fan"), "attempt 1")
    items = _children(ended, fan)
    assert _names(items) == ["run item", "run item"]
    assert sorted(s.attributes["plait.item_index"] for s in items if s.attributes) == [0, 1]
    for item in items:
        assert item.attributes is not None and item.attributes["plait.run.depth"] == 2
        assert item.attributes["plait.parent_run.id"] == (b.attributes or {})["plait.run.id"]
        assert _names(_children(ended, _only(ended, item, "step say"))) == ["attempt 1"]
    # 3 levels of run, step, attempt; the 2nd attempt; the fan step, its attempt, 2 items
    assert len(ended) == 3 * 3 + 1 + 2 + 2 * 3

    # each attempt's process at the deepest level was given the context of that attempt
    given = seen.read_text().split()
    assert len(given) == 2
    for line, attempt in zip(given, (first, second), strict=True):
        version, trace_id, parent_id, _flags = line.split("-")
        context = attempt.context
        assert context is not None
        assert (version, int(trace_id, 16), int(parent_id, 16)) == (
            "00",
            root.context.trace_id,  # type: ignore[union-attr]
            context.span_id,
        )


def test_a_failed_run_records_its_error_on_its_span(
    cli: Any, write: Any, spans: InMemorySpanExporter
) -> None:
    path = write("fails.yaml", "name: fails\nsteps:\n  - name: boom\n    command: exit 4\n")
    assert cli("start", "-q", path).code != 0

    ended = {s.name: s for s in spans.get_finished_spans()}
    run, step = ended["run fails"], ended["step boom"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "step boom failed: exit code 4"
    assert run.attributes is not None and run.attributes["plait.run.status"] == "failed"
    assert step.attributes is not None and step.attributes["plait.step.exit_code"] == 4
    assert step.status.status_code is StatusCode.ERROR


def test_a_step_program_joins_the_trace_through_traceparent(
    cli: Any, write: Any, spans: InMemorySpanExporter
) -> None:
    path = write(
        "joins.yaml",
        "name: joins\nsteps:\n  - name: show\n    command: echo $TRACEPARENT\n"
        "    output: CONTEXT\n",
    )
    result = cli("start", "-q", path)
    assert result.code == 0, result.err
    (attempt,) = [s for s in spans.get_finished_spans() if s.name == "attempt 1"]
    context = attempt.context
    assert context is not None
    shown = cli("status", "joins", "--json").json()
    version, trace_id, span_id, _flags = shown["outputs"]["CONTEXT"].split("-")
    assert (version, int(trace_id, 16), int(span_id, 16)) == (
        "00",
        context.trace_id,
        context.span_id,
    )


# ---------------------------------------------------------------------- OTLP over HTTP


class _Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP collector of one test: keeps each export request it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[dict[str, str], ExportTraceServiceRequest]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Every span received, with its resource's attributes."""
        found = []
        with self.lock:
            for _, request in self.requests:
                for resource_spans in request.resource_spans:
                    resource = {
                        a.key: a.value.string_value for a in resource_spans.resource.attributes
                    }
                    for scope in resource_spans.scope_spans:
                        found.extend((resource, span) for span in scope.spans)
        return found


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


STEP_SHOWS_CONTEXT = """
name: shipped
{otel}
steps:
  - name: show
    command: echo "$TRACEPARENT"
    output: CONTEXT
  - name: later
    run: leaf
---
name: leaf
steps:
  - name: deep
    command: echo deep
"""


@pytest.mark.parametrize("where", ["workflow", "config", "environment"])
def test_spans_reach_an_otlp_receiver_and_the_step_sees_their_trace(
    where: str, plait_bin: Any, write: Any, home: Path, receiver: _Receiver
) -> None:
    block = (
        f'otel: {{endpoint: "{receiver.url}", serviceName: plait-test, '
        'headers: {X-Collector-Token: "${COLLECTOR_TOKEN}"}}'
    )
    env = {"COLLECTOR_TOKEN": "tok-42"}
    if where == "config":
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.yaml").write_text(
            f"otel:\n  endpoint: {receiver.url}\n  serviceName: plait-test\n"
            '  headers: {X-Collector-Token: "${COLLECTOR_TOKEN}"}\n'
        )
    elif where == "environment":
        env |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "plait-test",
            "OTEL_EXPORTER_OTLP_HEADERS": "X-Collector-Token=tok-42",
        }
    path = write(
        "shipped.yaml", STEP_SHOWS_CONTEXT.format(otel=block if where == "workflow" else "")
    )

    done = plait_bin("start", "-q", path, env=env)
    assert done.code == 0, done.err

    received = receiver.spans()
    names = sorted(span.name for _, span in received)
    assert names == sorted(
        ["run shipped", "step show", "attempt 1", "step later", "attempt 1", "run leaf",
         "step deep", "attempt 1"]
    )  # fmt: skip
    assert {resource["service.name"] for resource, _ in received} == {"plait-test"}
    assert {headers.get("x-collector-token") for headers, _ in receiver.requests} == {"tok-42"}
    assert len({span.trace_id for _, span in received}) == 1
    shown = plait_bin("status", "shipped", "--json")
    context = json.loads(shown.out)["outputs"]["CONTEXT"]
    _, trace_id, parent_id, _ = context.split("-")
    (show_attempt,) = [
        span
        for _, span in received
        if span.name == "attempt 1"
        and any(a.key == "plait.step" and a.value.string_value == "show" for a in span.attributes)
    ]
    assert show_attempt.trace_id.hex() == trace_id
    assert show_attempt.span_id.hex() == parent_id


def test_enabled_false_turns_tracing_off(
    plait_bin: Any, write: Any, home: Path, receiver: _Receiver
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"otel:\n  endpoint: {receiver.url}\n")
    path = write(
        "quiet.yaml",
        "name: quiet\notel: {enabled: false}\nsteps:\n  - name: s\n    command: echo $TRACEPARENT\n"
        "    output: CONTEXT\n",
    )
    done = plait_bin("start", "-q", path, env={"TRACEPARENT": ""})
    assert done.code == 0, done.err
    assert receiver.requests == []
    status = json.loads(plait_bin("status", "quiet", "--json").out)
    assert status["outputs"]["CONTEXT"] == ""


REMOTE = """
name: spread
otel: {{endpoint: "{url}", serviceName: plait-remote}}
steps:
  - name: here
    command: echo here
  - name: away
    run: faraway
    workerSelector: {{pool: far}}
---
name: faraway
steps:
  - name: there
    command: echo there
"""


@pytest.mark.postgres_only(reason="workers share a PostgreSQL store")
def test_a_child_run_on_a_worker_joins_its_parents_trace(cluster: Any, receiver: _Receiver) -> None:
    # the worker (on "another machine") is configured by its own environment
    cluster.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    cluster.worker("far", "pool=far", slots=1)
    cluster.scheduler()
    cluster.workflow("spread", REMOTE.format(url=receiver.url))
    run_id = cluster.enqueue("spread")
    final = cluster.final(run_id)
    assert final["status"] == "succeeded", (final, cluster.logs())
    child = cluster.status(final["children"][0]["runId"])
    assert child["worker"] == "far"

    def both_runs() -> bool:  # the worker's agent exports when its run ends
        names = [span.name for _, span in receiver.spans()]
        return "run faraway" in names and "run spread" in names

    wait_for(both_runs, 60, "the spans of both agents")
    received = [span for _, span in receiver.spans()]
    assert len({span.trace_id for span in received}) == 1, sorted(s.name for s in received)
    (remote_run,) = [s for s in received if s.name == "run faraway"]
    attempts = [
        s
        for s in received
        if s.name == "attempt 1"
        and any(a.key == "plait.step" and a.value.string_value == "away" for a in s.attributes)
    ]
    assert [a.span_id for a in attempts] == [remote_run.parent_span_id]
