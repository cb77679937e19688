"""The ``otel:`` settings of a workflow, of ``base.yaml`` and of ``config.yaml``: where traces of
runs go. A value class; what reads it and what exports live in ``runtime``."""

from __future__ import annotations

from collections.abc import Mapping

from plait.model._value import Value

__all__ = ["OtelSettings"]


class OtelSettings(Value):
    """An ``otel:`` block as written; None (or empty) is "not said here", so that a block can
    be laid over another (``over``): the workflow's over ``base.yaml``'s over ``config.yaml``'s.

    ``endpoint``: OTLP over HTTP, a base URL (``http://collector:4318``, to which
    ``/v1/traces`` is added) or the traces URL itself; None leaves it to the standard
    ``OTEL_EXPORTER_OTLP_*`` variables. ``timeout_sec``: how long one export may take.
    ``insecure``: an endpoint written without a scheme is ``http://`` (else ``https://``).
    """

    __slots__ = (
        "enabled",
        "endpoint",
        "headers",
        "insecure",
        "resource",
        "service_name",
        "timeout_sec",
    )

    def __init__(
        self,
        enabled: bool | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        service_name: str | None = None,
        resource: Mapping[str, str] | None = None,
        insecure: bool | None = None,
        timeout_sec: float | None = None,
    ) -> None:
        self.enabled = enabled
        self.endpoint = endpoint
        self.headers: Mapping[str, str] = dict(headers or {})
        self.service_name = service_name
        self.resource: Mapping[str, str] = dict(resource or {})
        self.insecure = insecure
        self.timeout_sec = timeout_sec

    def __hash__(self) -> int:
        return hash(repr(self))

    def over(self, base: OtelSettings | None) -> OtelSettings:
        """These settings, with what they leave unsaid taken from ``base``; headers and
        resource attributes are merged key by key."""
        if base is None:
            return self
        return OtelSettings(
            enabled=base.enabled if self.enabled is None else self.enabled,
            endpoint=self.endpoint or base.endpoint,
            headers={**base.headers, **self.headers},
            service_name=self.service_name or base.service_name,
            resource={**base.resource, **self.resource},
            insecure=base.insecure if self.insecure is None else self.insecure,
            timeout_sec=base.timeout_sec if self.timeout_sec is None else self.timeout_sec,
        )
