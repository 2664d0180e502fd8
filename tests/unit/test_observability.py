"""Request metrics by route template, projector lag gauges, and one JSON log line per request."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Mapping

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.observability import LOGGER_NAME, JsonFormatter, install, json_logging


def _app(lag: Callable[[], Mapping[str, object]] | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/cases/{reference}")
    def get_case(reference: str) -> dict[str, str]:
        return {"reference": reference}

    units = APIRouter(prefix="/units")

    @units.get("/{number:int}")
    def get_unit(number: int) -> dict[str, int]:
        return {"number": number}

    app.include_router(units)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    install(app, lag=lag or (lambda: {"events_behind": 7, "seconds_behind": 42.5}))
    return app


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _labels(method: str, route: str, status: str) -> tuple[tuple[str, str], ...]:
    return (("method", method), ("route", route), ("status", status))


def test_a_request_is_counted_and_timed_under_its_route_template() -> None:
    client = TestClient(_app())
    client.get("/cases/XF-2025-00123")
    client.get("/cases/XF-2025-00124")
    samples = _samples(client)
    labels = _labels("GET", "/cases/{reference}", "200")
    assert samples[("petition_http_requests_total", labels)] == 2
    assert samples[("petition_http_request_duration_seconds_count", labels)] == 2
    assert not any("XF-2025" in str(key) for key in samples)  # never the raw path


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/units/12", "/units/{number}", "200"),  # an included router's prefix, no type
        ("POST", "/cases/A", "/cases/{reference}", "405"),  # the route exists, not the method
        ("GET", "/openapi.json", "/openapi.json", "200"),  # a plain Starlette route
    ],
)
def test_the_route_label_is_the_template_the_router_chose(
    method: str, path: str, route: str, status: str
) -> None:
    client = TestClient(_app())
    assert str(client.request(method, path).status_code) == status
    samples = _samples(client)
    assert samples[("petition_http_requests_total", _labels(method, route, status))] == 1


def test_an_unknown_path_is_labelled_unmatched() -> None:
    client = TestClient(_app())
    assert client.get("/no/such/thing").status_code == 404
    samples = _samples(client)
    assert samples[("petition_http_requests_total", _labels("GET", "unmatched", "404"))] == 1


def test_an_unusual_method_is_labelled_other() -> None:
    client = TestClient(_app())
    client.request("BREW", "/cases/A")
    samples = _samples(client)
    assert samples[("petition_http_requests_total", _labels("other", "/cases/{reference}", "405"))]


def test_an_unhandled_error_is_counted_as_500_under_its_route() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    samples = _samples(client)
    assert samples[("petition_http_requests_total", _labels("GET", "/boom", "500"))] == 1


def test_lag_gauges_are_read_at_scrape_time() -> None:
    behind = {"events_behind": 7, "seconds_behind": 42.5}
    client = TestClient(_app(lambda: behind))
    samples = _samples(client)
    assert samples[("petition_projector_lag_events", ())] == 7
    assert samples[("petition_projector_lag_seconds", ())] == 42.5
    behind["events_behind"] = 0
    assert _samples(client)[("petition_projector_lag_events", ())] == 0


def test_lag_that_raises_gives_nan_gauges_and_the_scrape_still_succeeds() -> None:
    def broken() -> dict[str, float]:
        raise RuntimeError("database gone")

    samples = _samples(TestClient(_app(broken)))
    assert math.isnan(samples[("petition_projector_lag_events", ())])
    assert math.isnan(samples[("petition_projector_lag_seconds", ())])


def test_a_missing_lag_value_reads_nan() -> None:
    samples = _samples(TestClient(_app(lambda: {"events_behind": 3, "error": None})))
    assert samples[("petition_projector_lag_events", ())] == 3
    assert math.isnan(samples[("petition_projector_lag_seconds", ())])


def test_two_apps_in_one_process_keep_their_own_metrics() -> None:
    first, second = TestClient(_app()), TestClient(_app())
    first.get("/cases/A")
    labels = _labels("GET", "/cases/{reference}", "200")
    assert _samples(first)[("petition_http_requests_total", labels)] == 1
    assert ("petition_http_requests_total", labels) not in _samples(second)


def test_metrics_is_left_out_of_the_openapi_schema() -> None:
    assert "/metrics" not in TestClient(_app()).get("/openapi.json").json()["paths"]


def test_every_request_logs_one_json_line_with_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    TestClient(_app()).get("/cases/XF-2025-00123", headers={"X-Request-ID": "abc-123"})
    (record,) = [r for r in caplog.records if r.name == LOGGER_NAME]
    line = json.loads(JsonFormatter().format(record))
    assert line["ts"].endswith("+00:00")
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/cases/XF-2025-00123"
    assert line["route"] == "/cases/{reference}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == "abc-123"


def test_an_incoming_request_id_is_echoed() -> None:
    response = TestClient(_app()).get("/cases/A", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize(
    "incoming",
    [
        None,  # none given
        "x" * 200,  # too long to log
        "a b\tc",  # whitespace could forge log fields
    ],
)
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_uuid(incoming: str | None) -> None:
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    response = TestClient(_app()).get("/cases/A", headers=headers)
    assert uuid.UUID(response.headers["X-Request-ID"]).version == 4


def test_json_logging_writes_json_lines_from_the_root_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        json_logging("info")
        logging.getLogger("petition.test").warning("信访 %s", "x", extra={"case": "XF-1"})
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert line["level"] == "WARNING"
    assert line["message"] == "信访 x"
    assert line["case"] == "XF-1"
    assert line["logger"] == "petition.test"
