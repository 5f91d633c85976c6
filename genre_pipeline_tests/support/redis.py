"""A throwaway Redis server for tests: Debian's ``redis-server`` on 127.0.0.1, in a temp dir.

Nothing machine-wide is used or touched: the server listens only on 127.0.0.1 on a free
port (no Unix socket), keeps nothing on disk (no RDB snapshots, no AOF) and is stopped and
its folder deleted when the fixture ends. When ``redis-server`` is missing the tests that
need it skip with the reason, except under ``CI=true`` where that is a failure (``.ci/run``
installs Debian's ``redis-server`` first).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from genre_pipeline_tests.support.postgres import free_port, serving, skip_or_fail

START_TIMEOUT = 30.0


@dataclass
class RedisServer:
    """A running throwaway server."""

    process: subprocess.Popen
    root: Path
    port: int
    host: str = "127.0.0.1"

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def ping(self) -> bool:
        """Whether the server answers ``PING`` (RESP over a plain socket: no client library needed)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self) -> str:
        log = self.root / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def find_binary() -> str | None:
    """``redis-server`` on ``PATH``, else where Debian puts it, else ``None``."""
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None)


def start_server() -> RedisServer:
    """Start a server, or skip/fail (see module docstring) when there is no ``redis-server``."""
    binary = find_binary()
    if binary is None:
        skip_or_fail("redis-server not found on PATH (Debian: apt-get install redis-server)")
    root = Path(tempfile.mkdtemp(prefix="genre-redis-"))
    for _attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--unixsocket", "", "--save", "", "--appendonly", "no",
             "--dir", str(root), "--logfile", str(root / "redis.log"), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        server = RedisServer(process, root, port)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if server.ping():
                return server
            time.sleep(0.1)
        stop_server(server, keep_folder=True)
    log = RedisServer(process, root, port).log_tail()
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start a throwaway redis-server: {log}")


def stop_server(server: RedisServer, keep_folder: bool = False) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    if not keep_folder:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """Session-wide throwaway server."""
    yield from serving(start_server, stop_server)
