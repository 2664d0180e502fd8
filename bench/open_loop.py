"""An open-loop load generator: each request is sent when it is due, whatever became of the
ones before it, over keep-alive HTTP/1.1 connections on one asyncio loop; and its closed-loop
twin for the most a server answers (a few streams, each sending its next request when the last
is answered).

A request's latency is counted from the moment it was due (a server that falls behind is
charged for the queue it causes) and, for reference, from when it was sent. The client must
not be what is measured: the threaded httpx clients this replaces spent 0.7–0.8 ms of CPU a
request on the same two cores as the server, and a due request waited for a free thread while
a few slow answers held them all; here a due request that finds no idle connection opens one.
Only the given loopback host is ever contacted, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

TIMEOUT_S = 30.0
IDLE_S = 2.0
"""A connection idle longer than this is not used again: the server closes idle keep-alive
connections (uvicorn after 5 s), and a request written to one it is closing gets no answer."""


@dataclass
class Outcome:
    """What came back: per request (in order of completion) its status and latencies."""

    statuses: list[int] = field(default_factory=list)
    from_schedule: list[float] = field(default_factory=list)
    from_send: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    connections: int = 0
    elapsed: float = 0.0

    def answered(
        self, status: int, body: bytes, due: float, sent: float, ok: frozenset[int]
    ) -> None:
        done = time.perf_counter()
        self.statuses.append(status)
        self.from_schedule.append(done - due)
        self.from_send.append(done - sent)
        if status not in ok:
            self.failures.append(f"{status} {body[:200].decode(errors='replace')}")


class Malformed(Exception):
    """The server's answer is not an HTTP/1.1 response with a Content-Length."""


FAILED_EXCHANGE = (OSError, asyncio.IncompleteReadError, TimeoutError, Malformed)
"""What ends an exchange without an answer (a failure, and the connection is not used again)."""


def request_bytes(
    host: str, port: int, method: str, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise Malformed(status_line[:80])
    length = None
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise Malformed("no Content-Length")
    body = await reader.readexactly(length)
    return int(parts[1]), body


async def _run(
    host: str, port: int, requests: Sequence[bytes], rate: float, ok: frozenset[int]
) -> Outcome:
    outcome = Outcome()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    opened: list[asyncio.StreamWriter] = []

    async def one(request: bytes, due: float) -> None:
        sent = time.perf_counter()
        try:
            while idle:
                reader, writer, since = idle.pop()
                if time.perf_counter() - since < IDLE_S and not reader.at_eof():
                    break
                writer.close()
            else:
                reader, writer = await asyncio.open_connection(host, port)
                opened.append(writer)
            status, body = await asyncio.wait_for(_exchange(reader, writer, request), TIMEOUT_S)
        except FAILED_EXCHANGE as e:
            outcome.failures.append(f"{type(e).__name__}: {e}")
            return
        outcome.answered(status, body, due, sent, ok)
        idle.append((reader, writer, time.perf_counter()))

    tasks = []
    start = time.perf_counter() + 0.05
    for i, request in enumerate(requests):  # the schedule: bounded by len(requests)
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    outcome.elapsed = time.perf_counter() - start
    outcome.connections = len(opened)
    for writer in opened:
        writer.close()
    return outcome


def offer(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    ok: frozenset[int] = frozenset({200}),
) -> Outcome:
    """Send ``requests`` at ``rate`` per second, open loop; wait for every answer."""
    return asyncio.run(_run(host, port, requests, rate, ok))


async def _streams(
    host: str, port: int, streams: Sequence[Sequence[bytes]], ok: frozenset[int]
) -> Outcome:
    outcome = Outcome()

    async def one_stream(requests: Sequence[bytes]) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(host, port)
            outcome.connections += 1
            for request in requests:
                sent = time.perf_counter()
                status, body = await asyncio.wait_for(_exchange(reader, writer, request), TIMEOUT_S)
                outcome.answered(status, body, sent, sent, ok)  # (due when the last answered)
        except FAILED_EXCHANGE as e:
            outcome.failures.append(f"{type(e).__name__}: {e}")  # this stream stops
        finally:
            if writer is not None:
                writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one_stream(requests) for requests in streams))
    outcome.elapsed = time.perf_counter() - start
    return outcome


def saturate(
    host: str,
    port: int,
    streams: Sequence[Sequence[bytes]],
    ok: frozenset[int] = frozenset({200}),
) -> Outcome:
    """Send each stream's requests in order on its own keep-alive connection, the next as soon
    as the last is answered, every stream at once; wait for every answer."""
    return asyncio.run(_streams(host, port, streams, ok))
