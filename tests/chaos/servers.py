"""Private servers for fault tests (never the shared ones): a redis-server on a free port
with AOF on, and a PostgreSQL cluster of its own (initdb in a temporary folder); each is
stopped and started again on the same data mid-test."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from .harness import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``redis-server`` with ``appendonly yes``, ``appendfsync everysec`` in ``folder``."""

    def __init__(self, folder: Path, *extra: str) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.exe = exe
        self.folder = folder
        self.port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.folder),
             "--logfile", str(self.folder / "redis.log"), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: answers(self.port), f"redis-server on port {self.port}", 20)

    def shutdown(self) -> None:
        """SHUTDOWN (AOF flushed and fsynced), then wait for the process to leave."""
        assert self.proc is not None
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"SHUTDOWN\r\n")
        self.proc.wait(20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


#: Where Debian puts PostgreSQL 15's server programs.
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temporary folder, its own free port, TCP
    only), started, stopped and started again with pg_ctl. initdb refuses to run as root,
    so as root the server runs as the ``postgres`` user, which owns the folder."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL server programs not found in {PG_BIN}")
        self.folder = Path(tempfile.mkdtemp(prefix="runa-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://root@127.0.0.1:{self.port}/postgres"
        self._owner = self._server_user()
        if self._owner is not None:
            shutil.chown(self.folder, user=self._owner)
        self._run("initdb", "-D", str(self.data), "-U", "root", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    @staticmethod
    def _server_user() -> str | None:
        """The user the server runs as: ``postgres`` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
        return "postgres"

    def _run(self, program: str, *args: str) -> None:
        argv = [str(PG_BIN / program), *args]
        if self._owner is not None:
            argv = ["runuser", "-u", self._owner, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   "-c unix_socket_directories=''")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        wait_for(lambda: postgres_answers(self.url), f"postgres on port {self.port}", 30)

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: ``fast`` (clients disconnected, clean checkpoint) or ``immediate``
        (no checkpoint: the next start replays the WAL, as after a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
