"""The hooks through which a run's life reaches a tracer: a run starts and ends, a step starts
and ends, each attempt of a step starts and ends, and a step's process is given the trace
context. ``Tracing`` itself does nothing, so that with telemetry off nothing is imported and
nothing costs time; ``runtime.otel`` exports to OpenTelemetry when it is configured
(``tracing_source`` says whether it is).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model.telemetry import OtelSettings
    from plait.runtime.run import RunExecution
    from plait.runtime.step import Attempt, StepExecution

__all__ = ["Tracing", "tracing_source"]


class Tracing:
    """Told of each run, step and attempt of an agent; the base class ignores them all."""

    def run_started(self, run: RunExecution) -> None:
        """The run is recorded and begins (a child run: under its parent step's attempt)."""

    def run_finished(self, run: RunExecution) -> None:
        """The run has ended (``run.record`` holds its status and error), or it could not
        begin (then its record says ``running``)."""

    def step_started(self, step: StepExecution) -> None:
        """A step begins (before its preconditions)."""

    def attempt_started(self, step: StepExecution) -> None:
        """An attempt of the step begins (``step.record.attempt`` is its number)."""

    def attempt_finished(self, step: StepExecution, attempt: Attempt) -> None:
        """That attempt has ended with ``attempt``."""

    def step_finished(self, step: StepExecution) -> None:
        """The step has ended (``step.record`` holds its final state)."""

    def step_env(self, step: StepExecution, env: dict[str, str]) -> dict[str, str]:
        """The environment of the current attempt's process: ``env``, with the trace
        context (``TRACEPARENT``, ``TRACESTATE``) when there is one."""
        return env

    def context_of(self, run: RunExecution, step: str) -> str | None:
        """The W3C ``traceparent`` of the current attempt of ``step`` of ``run`` (a child run
        queued for a worker joins it), or None when there is none."""
        return None

    def close(self) -> None:
        """The agent is done: send what is left (waits for the exporter, briefly)."""


def tracing_source(settings: OtelSettings | None, environ: Mapping[str, str]) -> str | None:
    """Whether runs are traced, and why: "settings" (an ``otel:`` block that is not
    ``enabled: false``), "environment" (the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` variables), "host" (the
    Python program that runs plait has set up OpenTelemetry itself), or None: not traced.
    ``OTEL_SDK_DISABLED=true`` and ``OTEL_TRACES_EXPORTER=none`` turn it off, and so does
    ``enabled: false``. Reads no file and imports nothing."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return None
    if settings is not None:
        if settings.enabled is False:
            return None
        return "settings"
    if exporter or any(
        environ.get(name, "").strip()
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return "environment"
    if "opentelemetry.trace" in sys.modules and _host_has_provider():
        return "host"
    return None


def _host_has_provider() -> bool:
    """Whether the program running plait set a tracer provider of its own (only asked once
    it has imported OpenTelemetry)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
