"""When runs are traced and where the spans go: ``otel:`` blocks laid over each other, the
standard variables, and the collector's URL."""

from __future__ import annotations

import pytest

from plait.errors import SpecError
from plait.model.telemetry import OtelSettings
from plait.runtime.otel import traces_endpoint
from plait.runtime.tracing import tracing_source
from plait.spec import load_text
from plait.spec.config import parse_config


def test_a_workflows_block_wins_over_base_and_config_key_by_key() -> None:
    config = OtelSettings(endpoint="http://a:4318", headers={"A": "1", "B": "2"}, timeout_sec=5)
    base = OtelSettings(service_name="from-base", resource={"env": "prod"})
    workflow = OtelSettings(headers={"B": "3"}, enabled=True)

    merged = workflow.over(base.over(config))

    assert merged == OtelSettings(
        enabled=True,
        endpoint="http://a:4318",
        headers={"A": "1", "B": "3"},
        service_name="from-base",
        resource={"env": "prod"},
        timeout_sec=5,
    )


@pytest.mark.parametrize(
    ("settings", "environ", "source"),
    [
        (None, {}, None),
        (OtelSettings(), {}, "settings"),
        (OtelSettings(enabled=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, None),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, "environment"),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x/v1/traces"}, "environment"),
        (None, {"OTEL_TRACES_EXPORTER": "console"}, "environment"),
        (OtelSettings(), {"OTEL_TRACES_EXPORTER": "none"}, None),
        (OtelSettings(), {"OTEL_SDK_DISABLED": "true"}, None),
        (None, {"OTEL_SERVICE_NAME": "x"}, None),
    ],
)
def test_what_turns_tracing_on_and_off(
    settings: OtelSettings | None, environ: dict[str, str], source: str | None
) -> None:
    assert tracing_source(settings, environ) == source


@pytest.mark.parametrize(
    ("endpoint", "insecure", "url"),
    [
        ("http://127.0.0.1:4318", None, "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", None, "http://127.0.0.1:4318/v1/traces"),
        ("https://c.example/otlp/v1/traces", None, "https://c.example/otlp/v1/traces"),
        ("collector:4318", None, "https://collector:4318/v1/traces"),
        ("collector:4318", True, "http://collector:4318/v1/traces"),
        ("http://${COLLECTOR}:4318", None, "http://otel.internal:4318/v1/traces"),
        (None, None, None),
    ],
)
def test_the_collectors_url(endpoint: str | None, insecure: bool | None, url: str | None) -> None:
    assert traces_endpoint(endpoint, insecure, {"COLLECTOR": "otel.internal"}) == url


def test_otel_blocks_load_from_a_workflow_and_from_config() -> None:
    workflow = load_text(
        "name: w\notel:\n  endpoint: http://c:4318\n  timeout: 2s\n  headers: {K: v}\n"
        "steps:\n  - name: s\n    command: 'true'\n"
    )
    assert workflow.otel == OtelSettings(
        endpoint="http://c:4318", headers={"K": "v"}, timeout_sec=2.0
    )
    *_, settings = parse_config("otel:\n  serviceName: svc\n  enabled: false\n", "config.yaml")
    assert settings["otel"] == OtelSettings(service_name="svc", enabled=False)
    with pytest.raises(SpecError) as refused:
        parse_config("otel:\n  endpoint: 4\n  tiemout: 1s\n", "config.yaml")
    assert "config.yaml:3" in str(refused.value) and "tiemout" in str(refused.value)
