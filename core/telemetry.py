"""OpenTelemetry traces and metrics. Exported to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is
set (azure-monitor-opentelemetry); to the console when OTEL_CONSOLE is on; otherwise recorded nowhere (no-op).

Attributes never carry message text or names: only skill, outcome, tier, model, token counts and durations."""
from __future__ import annotations

import logging

from opentelemetry import metrics, trace

from core.settings import AppSettings

log = logging.getLogger(__name__)


class TelemetrySettings(AppSettings):
    section = "observability"
    APPLICATIONINSIGHTS_CONNECTION_STRING: str | None = None
    """Application Insights connection string: traces and metrics go there (azure-monitor-opentelemetry)."""
    OTEL_CONSOLE: bool = False
    """Print spans and metrics to the console (development). Off by default: the JSON logs already tell the story."""
    OTEL_SERVICE_NAME: str = "amagasaki-assistant"
    """Service name on traces and metrics."""


tracer = trace.get_tracer("amagasaki.assistant")
meter = metrics.get_meter("amagasaki.assistant")

TURN_DURATION = meter.create_histogram("assistant.turn.duration", unit="ms", description="Bot turn latency")
LLM_DURATION = meter.create_histogram("assistant.llm.duration", unit="ms", description="LLM call latency")
LLM_TOKENS = meter.create_counter("assistant.llm.tokens", unit="{token}", description="LLM tokens by kind")
AI_USES = meter.create_counter("assistant.ai.uses", unit="{use}", description="AI uses by skill and outcome")
ERRORS = meter.create_counter("assistant.errors", unit="{error}", description="Errors by where they happened")
DIGESTS = meter.create_counter("assistant.news.digests", unit="{digest}", description="Digest deliveries by outcome")

_configured = False


def setup(settings: TelemetrySettings | None = None) -> str:
    """Install the exporters once per process. Returns which one ("azure-monitor" | "console" | "none")."""
    global _configured
    settings = settings or TelemetrySettings()
    if _configured:
        return "already"
    _configured = True
    if settings.APPLICATIONINSIGHTS_CONNECTION_STRING:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(connection_string=settings.APPLICATIONINSIGHTS_CONNECTION_STRING,
                                resource=_resource(settings), enable_live_metrics=False)
        return "azure-monitor"
    if settings.OTEL_CONSOLE:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        provider = TracerProvider(resource=_resource(settings))
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=_resource(settings), metric_readers=[
            PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)]))
        return "console"
    return "none"


def _resource(settings: TelemetrySettings):
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": settings.OTEL_SERVICE_NAME})
