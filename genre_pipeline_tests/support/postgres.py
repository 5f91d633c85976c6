"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temp dir.

No machine-wide service is needed or touched: the cluster lives in a fresh temp directory,
listens only on 127.0.0.1 on a free port (and on a Unix socket inside that directory),
requires a password over TCP (scram-sha-256, random per server), and is stopped and deleted
when the fixture ends.

Binaries are looked up on ``PATH``, then in ``$PG_BIN`` and Debian's
``/usr/lib/postgresql/<version>/bin`` (newest first). When they are missing the tests that
need them skip with the reason, except under ``CI=true`` where that is a failure
(``.ci/run`` installs Debian's ``postgresql`` first, so in CI a missing server is a bug).

PostgreSQL refuses to run as root. When the tests run as root (CI does), the server runs as
the ``postgres`` system user if there is one (Debian's package creates it), else as
``nobody``; the temp directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "genre_test"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail under ``CI=true``."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run must provide it)", pytrace=False)
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        candidates.append(Path(os.path.realpath(on_path)).parent)
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))

    def version(path: str) -> int:
        try:
            return int(Path(path).parent.parent.name)
        except ValueError:
            return 0

    candidates += [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() and os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: the current user, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@dataclass
class PostgresServer:
    """A running throwaway server. ``password`` is random and exists only in memory."""

    bin_dir: Path
    root: Path
    port: int
    user: str
    password: str
    host: str = "127.0.0.1"
    run_as: pwd.struct_passwd | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        if self.run_as is not None:
            uid, gid = self.run_as.pw_uid, self.run_as.pw_gid

            def demote() -> None:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

            kwargs["preexec_fn"] = demote
            env["HOME"] = str(self.root)
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.root, **kwargs)

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.run_as is not None:
            for path in (self.root, pwfile):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        os.chmod(pwfile, 0o600)
        done = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-U", self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        done = self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start"]
        )
        if done.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{log}")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30", "stop"], timeout=60)

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname)

    def query(self, dbname: str, sql: str, *params) -> list[tuple]:
        """Rows of one statement in database ``dbname``."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return name

    def env(self, dbname: str) -> dict[str, str]:
        """The DAGSTER_POSTGRES_* variables deploy/dagster.yaml reads, pointing at this server."""
        return {
            "DAGSTER_POSTGRES_HOST": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": self.password,
            "DAGSTER_POSTGRES_DB": dbname,
        }


def start_server() -> PostgresServer:
    """Start a server, or skip/fail (see module docstring) when that is impossible here."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, $PG_BIN or /usr/lib/postgresql/*/bin")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg2 is not installed (pip install psycopg2-binary, part of the [test] extra)")
    run_as = _server_user()
    root = Path(tempfile.mkdtemp(prefix="genre-pg-"))
    server = PostgresServer(bin_dir, root, free_port(), SUPERUSER, secrets.token_urlsafe(18), run_as=run_as)
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between probing and binding
        try:
            server.start()
            return server
        except RuntimeError as error:
            last_error = error
            server.stop()
            shutil.rmtree(server.data_dir, ignore_errors=True)
            server.port = free_port()
            time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start a throwaway PostgreSQL server: {last_error}")


def stop_server(server: PostgresServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


def serving(start, stop):
    """A fixture's body: the server ``start()`` returns, given to the tests, then ``stop(server)``."""
    server = start()
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def postgres_server():
    """Session-wide throwaway server (each test creates its own database in it)."""
    yield from serving(start_server, stop_server)
