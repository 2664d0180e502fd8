"""Operations: request metrics for Prometheus, projector lag, one JSON log line per request.

``install(app, lag=...)`` adds a timing middleware and ``GET /metrics`` (left out of the
OpenAPI schema: it is for the scraper, not for API clients). Every app gets its own
``CollectorRegistry``, so several apps in one process never clash. Requests are labelled by
route template (``/cases/{reference}``), never by raw path, to bound label cardinality; a
request that matched no route is labelled ``unmatched``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER_NAME = "petition.http"
REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "unmatched"
# An incoming request id is echoed and logged only if it is short and plain.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_LABELS = ("method", "route", "status")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

log = logging.getLogger(LOGGER_NAME)

Lag = Callable[[], Mapping[str, object]]


def install(app: FastAPI, *, lag: Lag) -> None:
    """Time every request, log it as JSON, and serve ``GET /metrics`` with the projector lag.

    ``lag()`` returns ``{"events_behind": ..., "seconds_behind": ...}`` and is called at
    scrape time; if it raises, or a value is missing, that gauge reads NaN.
    """
    registry = CollectorRegistry()
    duration = Histogram(
        "petition_http_request_duration_seconds",
        "Time to answer an HTTP request, by method, route template and status.",
        _LABELS,
        registry=registry,
    )
    requests = Counter(
        "petition_http_requests",
        "HTTP requests answered, by method, route template and status.",
        _LABELS,
        registry=registry,
    )
    registry.register(_LagCollector(lag))
    app.state.metrics_registry = registry
    app.add_middleware(
        _RequestMiddleware, routes=app.router.routes, duration=duration, requests=requests
    )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """The Prometheus text exposition of this app's registry."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def json_logging(level: str = "INFO") -> None:
    """Configure the root logger to write one JSON object per line to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class JsonFormatter(logging.Formatter):
    """ts (ISO 8601 UTC), level, logger, message, then every ``extra=`` field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class _LagCollector:
    """The projector's lag as two gauges, read from ``lag()`` at every scrape."""

    _GAUGES = (
        ("petition_projector_lag_events", "events_behind", "Events recorded but not projected."),
        ("petition_projector_lag_seconds", "seconds_behind", "Recorded time not yet projected."),
    )

    def __init__(self, lag: Lag) -> None:
        self._lag = lag

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, doc) for name, _, doc in self._GAUGES]

    def collect(self) -> Iterable[Metric]:
        try:
            values: Mapping[str, object] = self._lag()
        except Exception:
            log.exception("projector lag could not be read; the lag gauges read NaN")
            values = {}
        return [
            GaugeMetricFamily(name, doc, value=_number(values.get(key)))
            for name, key, doc in self._GAUGES
        ]


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


class _RequestMiddleware:
    """Pure ASGI: times the whole response, records it, logs it, and tags it with a request id."""

    def __init__(
        self, app: ASGIApp, *, routes: list[BaseRoute], duration: Histogram, requests: Counter
    ) -> None:
        self.app = app
        self.routes = routes  # the app's own list: routes added later are seen too
        self.duration = duration
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        unrouted = dict(scope)  # as it came in, before routing adds to it
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # unless the app starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = self._template(scope.get("route"), unrouted)
            self._record(scope, route, status, time.perf_counter() - started, request_id)

    def _template(self, routed: object, scope: Scope) -> str:
        """The matched route's template; FastAPI names only its own routes in the scope."""
        route = routed or _match(self.routes, scope)
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        return template if isinstance(template, str) else UNMATCHED

    def _record(
        self, scope: Scope, route: str, status: int, seconds: float, request_id: str
    ) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"  # bounded, too
        labels = {"method": method, "route": route, "status": str(status)}
        self.duration.labels(**labels).observe(seconds)
        self.requests.labels(**labels).inc()
        log.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "request_id": request_id,
            },
        )


def _match(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router would pick: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return str(uuid.uuid4())
