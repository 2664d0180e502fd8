"""`petition serve --workers N`: each API process listens on a socket of its own.

uvicorn's workers share the one socket their supervisor bound, and whichever process wakes
first accepts: a few long-lived connections (a proxy's, a client library's pool, the HTTP
bench's 16 streams) can land mostly on one process while the other idles, and differently at
every start (interpreter samples of the two processes under the bench: 331 against 795, 467
against 547). With ``SO_REUSEPORT`` every process binds its own socket to the same address and
the kernel spreads new connections across them. uvicorn's supervisor stays as it is (health
checks, restarts, signals); only what a worker listens on changes.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config
from uvicorn.supervisors import multiprocess


class CannotListen(Exception):
    """The API processes cannot listen where they were told to (said once, before any starts)."""


def own_socket(config: Config) -> socket.socket:
    """A listening socket of this process on the configured address, sharing the port with
    the other workers' (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    return sock


class _OwnSocketWorker(multiprocess.Process):
    """A uvicorn worker that serves on a socket it binds itself, not its supervisor's."""

    def target(self, sockets: Any = None) -> None:  # pragma: no cover - runs in the worker
        super().target([own_socket(self.config)])


def run_workers(config: Config) -> None:
    """Run ``config.workers`` API processes under uvicorn's supervisor, each on its own
    socket. The supervisor itself binds nothing: a socket of the port's group that nobody
    accepts on would hold the connections the kernel gave it. (Without ``SO_REUSEPORT``, as
    uvicorn runs workers: on the supervisor's one socket.)"""
    if not hasattr(socket, "SO_REUSEPORT"):
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    if config.port == 0:
        raise CannotListen("API processes that listen apart need a fixed port, not 0")
    # The address is tried here first: a worker that cannot bind would die, be restarted and
    # die again for as long as the supervisor runs.
    try:
        own_socket(config).close()  # (bound, never listening: given no connection)
    except OSError as e:
        raise CannotListen(f"cannot listen on {config.host}:{config.port}: {e.strerror}") from e
    # uvicorn's supervisor makes its workers through this module's name (every start and
    # restart): pinned uvicorn, and tests/integration/test_serve.py serves through it.
    multiprocess.Process = _OwnSocketWorker  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()
