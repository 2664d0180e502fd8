"""A throwaway PostgreSQL primary with a streaming replica, started from the local server
binaries in a temporary directory on free ports.

The shared server on 127.0.0.1:5432 is never touched: its pg_hba.conf does not allow
replication connections, and a test must not change a cluster others use. ``initdb``
refuses to run as root, so as root every server command runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASE = "ledger"


class Unavailable(RuntimeError):
    """This machine cannot run a local primary and replica (no server binaries, no user)."""


@dataclass(frozen=True)
class Pair:
    primary_url: str
    replica_url: str
    primary_port: int
    replica_port: int
    bindir: Path
    started_in_s: float

    def psql_replica(self, sql: str) -> str:
        """Run SQL on the replica as the superuser (e.g. to pause WAL replay)."""
        on_replica = ("-h", "127.0.0.1", "-p", str(self.replica_port), "-U", "postgres")
        return _run(self.bindir, "psql", *on_replica, "-d", DATABASE, "-Atc", sql).strip()


def server_bindir() -> Path:
    """The PostgreSQL server binaries: $PG_BINDIR, or the newest /usr/lib/postgresql/*/bin."""
    candidates = [Path(os.environ["PG_BINDIR"])] if os.environ.get("PG_BINDIR") else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_basebackup").is_file():
            return bindir
    raise Unavailable("no PostgreSQL server binaries (initdb, pg_basebackup) on this machine")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise Unavailable("running as root without runuser: cannot run initdb as postgres")
    return ["runuser", "-u", "postgres", "--", *command]


def _run(bindir: Path, tool: str, *arguments: str) -> str:
    command = [str(bindir / tool), *arguments]
    done = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def primary_and_replica() -> Iterator[Pair]:
    """Start a fresh primary and a streaming replica of it; stop and delete both after."""
    bindir = server_bindir()
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="petition-replica-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(base, "postgres")
        except LookupError as e:
            shutil.rmtree(base)
            raise Unavailable("running as root and there is no postgres user") from e
    primary, replica = base / "primary", base / "replica"
    running: list[Path] = []
    try:
        _run(bindir, "initdb", "-D", str(primary), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        p_port, r_port = _free_port(), _free_port()
        _start(bindir, primary, p_port, base)
        running.append(primary)
        on_primary = ("-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres")
        _run(bindir, "psql", *on_primary, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}")
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica
        _run(bindir, "pg_basebackup", *on_primary, "-D", str(replica), "-R", "-X", "stream",
             "-c", "fast")  # fmt: skip
        _start(bindir, replica, r_port, base)
        running.append(replica)
        url = "postgresql+psycopg2://postgres@127.0.0.1:{}/" + DATABASE
        yield Pair(
            url.format(p_port),
            url.format(r_port),
            p_port,
            r_port,
            bindir,
            time.monotonic() - started,
        )
    finally:
        for data in reversed(running):
            subprocess.run(
                _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


def _start(bindir: Path, data: Path, port: int, base: Path) -> None:
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(bindir, "pg_ctl", "-D", str(data), "-l", f"{data}.log", "-w", "-o", options, "start")
