"""Traces of runs in OpenTelemetry: a span for each run, each step and each attempt of a step,
child runs (at any depth, fan-out items included) under the attempt that started them, in the
trace of their root run; each step's process gets the trace context of its attempt
(``TRACEPARENT``, ``TRACESTATE``) so that the program can join the trace.

Imported only when tracing is configured (``tracing.tracing_source``): this module imports the
OpenTelemetry SDK (the ``plait[otel]`` extra) at once.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from plait.model import RunStatus, StepStatus
from plait.model.telemetry import OtelSettings
from plait.runtime.tracing import Tracing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.runtime.run import RunExecution
    from plait.runtime.step import Attempt, StepExecution

__all__ = ["OtelTracing", "exporter_for", "traces_endpoint"]

DEFAULT_SERVICE_NAME = "plait"
DEFAULT_EXPORT_TIMEOUT = 10.0
_PROPAGATOR = TraceContextTextMapPropagator()
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_FAILED_RUNS = frozenset({RunStatus.FAILED})
_FAILED_STEPS = frozenset({StepStatus.FAILED})
_PROVIDERS: dict[tuple[str, str, str], TracerProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


class OtelTracing(Tracing):
    """Spans of an agent's runs, sent through ``provider``; ``owned``: plait made the provider
    (shut down, so flushed, when the process exits), else it is the host program's."""

    def __init__(
        self, provider: trace.TracerProvider, *, owned: bool, environ: Mapping[str, str]
    ) -> None:
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer("plait", _version())
        # the trace a root run joins: the one of the process that started plait, if it
        # passed one on (a step of another traced program)
        carrier = {"traceparent": environ.get("TRACEPARENT", "")}
        if environ.get("TRACESTATE"):
            carrier["tracestate"] = environ["TRACESTATE"]
        self.incoming: Context | None = (
            _PROPAGATOR.extract(carrier) if carrier["traceparent"] else None
        )
        self._lock = threading.Lock()
        self._runs: dict[str, Span] = {}
        self._steps: dict[tuple[str, str], Span] = {}
        self._attempts: dict[tuple[str, str], Span] = {}

    @classmethod
    def configured(cls, settings: OtelSettings | None, environ: Mapping[str, str]) -> OtelTracing:
        """Tracing through a provider of plait's own, exporting as ``settings`` (and the
        standard ``OTEL_*`` variables) say."""
        settings = settings or OtelSettings()
        name = settings.service_name or environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        # one provider a process for the same settings: a worker's agent runs run after run
        key = (repr(settings), name, environ.get("OTEL_TRACES_EXPORTER", ""))
        with _PROVIDERS_LOCK:
            provider = _PROVIDERS.get(key)
            if provider is None:
                resource = Resource.create({**settings.resource, "service.name": name})
                provider = TracerProvider(resource=resource)  # shut down (flushed) at exit
                provider.add_span_processor(BatchSpanProcessor(exporter_for(settings, environ)))
                _PROVIDERS[key] = provider
        return cls(provider, owned=True, environ=environ)

    @classmethod
    def of_host(cls, environ: Mapping[str, str]) -> OtelTracing:
        """Tracing through the tracer provider the program running plait set up."""
        return cls(trace.get_tracer_provider(), owned=False, environ=environ)

    # ------------------------------------------------------------------ runs

    def run_started(self, run: RunExecution) -> None:
        record = run.record
        attributes: dict[str, str | int] = {
            "plait.workflow": record.name,
            "plait.run.id": run.run_id,
            "plait.root_run.id": run.root_id,
            "plait.run.attempt": record.attempt,
            "plait.run.depth": run.depth,
        }
        if run.parent is not None:
            attributes["plait.parent_run.id"] = run.parent.run.run_id
            attributes["plait.parent.step"] = run.parent.step
            if run.parent.item_index is not None:
                attributes["plait.item_index"] = run.parent.item_index
        span = self.tracer.start_span(
            f"run {record.name}", context=self._run_parent(run), attributes=attributes
        )
        with self._lock:
            self._runs[run.run_id] = span

    def _run_parent(self, run: RunExecution) -> Context | None:
        """A child run hangs under the attempt of the step that started it; a root run under
        the trace it was given, or what is current in this thread (a host program's span)."""
        if run.parent is None:
            return self.incoming
        key = (run.parent.run.run_id, run.parent.step)
        with self._lock:
            above = self._attempts.get(key) or self._steps.get(key)
            above = above or self._runs.get(run.parent.run.run_id)
        return None if above is None else trace.set_span_in_context(above)

    def run_finished(self, run: RunExecution) -> None:
        with self._lock:
            span = self._runs.pop(run.run_id, None)
        if span is None:
            return
        record = run.record
        span.set_attribute("plait.run.status", str(record.status))
        _end(span, record.error if record.status in _FAILED_RUNS else None, run.masker.text)
        if run.parent is None:
            self.close()  # a root run's trace is whole: send it before the command returns

    # ------------------------------------------------------------------ steps

    def step_started(self, step: StepExecution) -> None:
        run = step.run
        with self._lock:
            above = self._runs.get(run.run_id)
        span = self.tracer.start_span(
            f"step {step.record.name}",
            context=None if above is None else trace.set_span_in_context(above),
            attributes={"plait.step": step.record.name, "plait.run.id": run.run_id},
        )
        with self._lock:
            self._steps[(run.run_id, step.record.name)] = span

    def attempt_started(self, step: StepExecution) -> None:
        key = (step.run.run_id, step.record.name)
        with self._lock:
            above = self._steps.get(key)
            earlier = self._attempts.pop(key, None)
        if earlier is not None:  # (an attempt that ended without being told: end it)
            earlier.end()
        span = self.tracer.start_span(
            f"attempt {step.record.attempt}",
            context=None if above is None else trace.set_span_in_context(above),
            attributes={"plait.step": step.record.name, "plait.attempt": step.record.attempt},
        )
        with self._lock:
            self._attempts[key] = span

    def attempt_finished(self, step: StepExecution, attempt: Attempt) -> None:
        with self._lock:
            span = self._attempts.pop((step.run.run_id, step.record.name), None)
        if span is None:
            return
        span.set_attribute("plait.attempt.status", _attempt_status(attempt))
        if attempt.exit_code is not None:
            span.set_attribute("process.exit.code", attempt.exit_code)
        failed = not (attempt.ok or attempt.cancelled or attempt.waiting)
        error = (attempt.error or f"exit code {attempt.exit_code}") if failed else None
        _end(span, error, step.masker.text)

    def step_finished(self, step: StepExecution) -> None:
        key = (step.run.run_id, step.record.name)
        with self._lock:
            span = self._steps.pop(key, None)
            left = self._attempts.pop(key, None)
        if left is not None:  # the attempt ended by an error of plait's own
            _end(left, step.record.error, step.masker.text)
        if span is None:
            return
        record = step.record
        span.set_attribute("plait.step.status", str(record.status))
        span.set_attribute("plait.step.attempts", record.attempt)
        if record.exit_code is not None:
            span.set_attribute("plait.step.exit_code", record.exit_code)
        if record.tolerated:
            span.set_attribute("plait.step.tolerated", True)
        error = record.error if record.status in _FAILED_STEPS else None
        _end(span, error, step.masker.text)

    def step_env(self, step: StepExecution, env: dict[str, str]) -> dict[str, str]:
        with self._lock:
            span = self._attempts.get((step.run.run_id, step.record.name))
        if span is None:
            return env
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        env = {k: v for k, v in env.items() if k not in ("TRACEPARENT", "TRACESTATE")}
        env["TRACEPARENT"] = carrier.get("traceparent", "")
        if carrier.get("tracestate"):
            env["TRACESTATE"] = carrier["tracestate"]
        return env

    def context_of(self, run: RunExecution, step: str) -> str | None:
        key = (run.run_id, step)
        with self._lock:
            span = self._attempts.get(key) or self._steps.get(key)
        if span is None:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return carrier.get("traceparent")

    def close(self) -> None:
        flush = getattr(self.provider, "force_flush", None)
        if flush is not None:
            flush()


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("plait")
    except PackageNotFoundError:
        return None


def _end(span: Span, error: str | None, mask: Callable[[str], str]) -> None:
    """End ``span``; with ``error``, as failed and with the error recorded (masked)."""
    if error:
        shown = mask(error)
        span.set_status(Status(StatusCode.ERROR, shown))
        span.add_event("exception", {"exception.type": "plait.Failed", "exception.message": shown})
    span.end()


def _attempt_status(attempt: Attempt) -> str:
    if attempt.waiting:
        return "waiting"
    if attempt.cancelled:
        return "cancelled"
    if attempt.timed_out:
        return "timed_out"
    return "succeeded" if attempt.ok else "failed"


# ---------------------------------------------------------------------- export


def exporter_for(settings: OtelSettings, environ: Mapping[str, str]) -> SpanExporter:
    """OTLP over HTTP (protobuf) to ``settings.endpoint`` (else where ``OTEL_EXPORTER_OTLP_*``
    say), or the console (stderr) for ``OTEL_TRACES_EXPORTER=console``."""
    kind = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "console" and not settings.endpoint:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    if kind not in ("otlp", "console"):
        print(
            f"plait: OTEL_TRACES_EXPORTER={kind} is not one plait has: traces go by OTLP/HTTP",
            file=sys.stderr,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = traces_endpoint(settings.endpoint, settings.insecure, environ)
    headers = {key: _expand(value, environ) for key, value in settings.headers.items()}
    return OTLPSpanExporter(
        endpoint=endpoint,
        headers=headers or None,
        timeout=settings.timeout_sec or _env_timeout(environ) or DEFAULT_EXPORT_TIMEOUT,
    )


def traces_endpoint(
    endpoint: str | None, insecure: bool | None, environ: Mapping[str, str]
) -> str | None:
    """The URL spans are posted to: ``endpoint`` (with ``${VAR}`` of the environment) as the
    traces URL, or a base URL to which ``/v1/traces`` is added; None: the exporter's own
    reading of ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    if not endpoint:
        return None
    url = _expand(endpoint.strip(), environ)
    if "://" not in url:
        url = ("http://" if insecure else "https://") + url
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/v1/traces"
    return url


def _env_timeout(environ: Mapping[str, str]) -> float | None:
    raw = environ.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or environ.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    try:
        return float(raw) / 1000 if raw else None  # the variables are in milliseconds
    except ValueError:
        return None


def _expand(text: str, environ: Mapping[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` of the environment (a header holding a token)."""
    return _REFERENCE.sub(lambda m: environ.get(m.group(1) or m.group(2), ""), text)
