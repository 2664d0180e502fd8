"""The HTTP bench's open-loop generator: every request sent when due, each answer's latency
counted from its due time, failures reported, and connections reused; and its closed loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench.open_loop import offer, request_bytes, saturate

HOST = "127.0.0.1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    delay = 0.0
    seen: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.seen.append((self.path, body))
        time.sleep(Handler.delay)
        status = 409 if self.path.endswith("/refuse") else 200
        answer = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    Handler.seen = []
    Handler.delay = 0.0
    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def requests(port: int, paths: list[str]) -> list[bytes]:
    return [request_bytes(HOST, port, "POST", p, {"X-Request-Id": p}, b"{}") for p in paths]


def test_every_request_is_sent_at_the_rate_and_answered(port: int) -> None:
    paths = [f"/cases/{i}/route" for i in range(40)]
    started = time.perf_counter()
    outcome = offer(HOST, port, requests(port, paths), rate=200.0)
    assert sorted(p for p, _ in Handler.seen) == sorted(paths)
    assert outcome.statuses == [200] * 40 and outcome.failures == []
    assert time.perf_counter() - started >= 39 / 200  # not sooner than the schedule
    assert outcome.connections < 40  # idle connections are used again


def test_a_slow_server_is_charged_from_the_due_time(port: int) -> None:
    Handler.delay = 0.05
    outcome = offer(HOST, port, requests(port, [f"/c/{i}" for i in range(10)]), rate=100.0)
    assert min(outcome.from_schedule) >= 0.05
    assert all(s >= f for s, f in zip(outcome.from_schedule, outcome.from_send, strict=True))
    assert outcome.connections >= 3  # due requests did not wait for a busy connection


def test_an_unexpected_status_is_a_failure(port: int) -> None:
    outcome = offer(HOST, port, requests(port, ["/a/route", "/b/refuse"]), rate=50.0)
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith("409")


def test_a_connection_the_server_closed_is_not_used_again(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Handler, "protocol_version", "HTTP/1.0")  # closes after each answer
    outcome = offer(HOST, port, requests(port, [f"/c/{i}" for i in range(10)]), rate=50.0)
    assert outcome.failures == [] and outcome.connections == 10


def test_a_connection_idle_too_long_is_not_used_again(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.open_loop

    monkeypatch.setattr(bench.open_loop, "IDLE_S", 0.0)
    outcome = offer(HOST, port, requests(port, [f"/c/{i}" for i in range(5)]), rate=50.0)
    assert outcome.failures == [] and outcome.connections == 5


def test_closed_loop_streams_send_in_order_each_after_the_last_answer(port: int) -> None:
    Handler.delay = 0.02
    streams = [[f"/s{n}/{i}" for i in range(5)] for n in range(3)]
    outcome = saturate(HOST, port, [requests(port, s) for s in streams])
    for stream in streams:  # each stream's requests arrived in its order
        assert [p for p, _ in Handler.seen if p.startswith(stream[0][:4])] == stream
    assert outcome.statuses == [200] * 15 and outcome.failures == []
    assert outcome.connections == 3
    # five answers one after another per stream, the streams side by side
    assert 5 * 0.02 <= outcome.elapsed < 15 * 0.02


def test_closed_loop_reports_an_unexpected_status(port: int) -> None:
    outcome = saturate(HOST, port, [requests(port, ["/a/route", "/b/refuse"])])
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith("409")
