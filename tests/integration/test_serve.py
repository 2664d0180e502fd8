"""`petition serve` as deployed on PostgreSQL: several API processes, the projector once in the
supervising process. A case registered through any worker reaches the views."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.security import Role
from ledger.application import Ledger
from tests.conftest import IN_CI
from tests.integration.test_http import SECRET, letter, token
from tests.world import World

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVE_OPTIONS = ("--workers", "2", "--port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(database_url: str, world: World, ledger: Ledger, tmp_path: Path) -> Iterator[str]:
    ledger.close()  # the world is written; the server opens the database itself
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "LEDGER_TOKEN_SECRET": SECRET}
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from api.cli import app; app()",
                "serve",
                *SERVE_OPTIONS,
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _until(lambda: _get(base, "/healthz") is not None, "the server to answer")
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


def _get(base: str, path: str) -> dict[str, object] | None:
    try:
        response = httpx.get(base + path, timeout=2)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


def _until(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


def test_a_case_registered_through_a_worker_reaches_the_views(served: str, world: World) -> None:
    clerk = token(world.clerk, Role.REGISTRAR, world.office)
    body = letter(petitioners=[{"name": "张秀英"}])
    registered = httpx.post(served + "/cases", json=body, headers=clerk, timeout=10)
    assert registered.status_code == 201, registered.text
    position = registered.json()["position"]

    def projected() -> bool:
        health = _get(served, "/healthz")
        return health is not None and health["projector"]["position"] >= position  # type: ignore[index]

    _until(projected, "the projector in the supervising process")
    cases = httpx.get(served + "/cases", headers=clerk, timeout=10).json()
    assert [c["case_number"] for c in cases["items"]] == ["XF-2025-00001"]


def test_every_worker_writes_its_request_log(served: str, world: World, tmp_path: Path) -> None:
    clerk = token(world.clerk, Role.REGISTRAR, world.office)
    asked = [f"serve-log-{i}" for i in range(6)]  # the supervisor spreads them over the workers
    for request_id in asked:
        headers = {**clerk, "X-Request-Id": request_id}
        assert httpx.get(served + "/cases", headers=headers, timeout=10).status_code == 200

    def logged() -> set[str]:
        found = set()
        for line in (tmp_path / "server.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("route") == "/cases" and "duration_ms" in entry:
                    found.add(entry["request_id"])
        return found

    _until(lambda: logged() >= set(asked), "every request in the JSON request log", 10)


def _listening_sockets(port: int) -> int:
    """How many IPv4 sockets listen on ``port`` (Linux: /proc/net/tcp, state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def test_each_api_process_listens_on_a_socket_of_its_own(served: str) -> None:
    """The kernel spreads new connections over the workers' sockets (``SO_REUSEPORT``,
    api.listeners): with one shared socket, whichever worker woke first took them."""
    if not Path("/proc/net/tcp").exists():  # not Linux: no socket table to read
        if IN_CI:
            pytest.fail("CI runs on Linux: /proc/net/tcp must be there")
        pytest.skip("reads Linux's socket table (/proc/net/tcp)")
    port = int(served.rsplit(":", 1)[1])
    _until(lambda: _listening_sockets(port) == 2, "a listening socket per API process", 10)
    clients = [httpx.Client(base_url=served, timeout=10) for _ in range(8)]
    try:
        assert all(c.get("/healthz").status_code == 200 for c in clients)
    finally:
        for client in clients:
            client.close()


def test_serving_on_a_port_already_taken_fails_at_once_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    """Not workers dying and restarting for as long as the supervisor runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": database_url, "LEDGER_TOKEN_SECRET": SECRET}
        command = [sys.executable, "-c", "from api.cli import app; app()", "serve"]
        done = subprocess.run(
            [*command, *SERVE_OPTIONS, str(port)],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout
