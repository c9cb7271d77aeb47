"""A PostgreSQL and a Redis server of a test's own: started from the machine's binaries in a
temporary directory on a free port, stopped and removed afterwards, so a test may restart or
stop them without disturbing anything else on the machine (tests/test_cluster.py).

PostgreSQL: Debian's `initdb` and `pg_ctl` (/usr/lib/postgresql/<version>/bin, the newest);
as root they run as the `postgres` user, since PostgreSQL refuses to run as root. Redis:
`redis-server --save ''` (nothing written to disk).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


class Unavailable(RuntimeError):
    """The binaries are missing: say what to install."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_bin() -> Path:
    """The newest of Debian's PostgreSQL bin folders (or PG_BIN)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda path: int(path.parent.parent.name))
    if not found:
        raise Unavailable("PostgreSQL's server binaries are not installed (Debian/Ubuntu: "
                          "'sudo apt install postgresql'; or set PG_BIN to the folder of initdb)")
    return found[-1].parent


class ThrowawayPostgres:
    """`initdb` in a temporary directory, `pg_ctl` on a free port of 127.0.0.1, trust auth for
    the `postgres` user; `stop()` removes everything."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """The admin URL (database `postgres`)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        demote: Callable[[], None] | None = None
        if self._user is not None:
            uid, gid = self._user.pw_uid, self._user.pw_gid

            def demote() -> None:
                os.setgid(gid)
                os.setuid(uid)

        result = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True,
                                text=True, timeout=timeout, preexec_fn=demote, cwd=self.home)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> ThrowawayPostgres:
        if self._user is not None:
            os.chown(self.home, self._user.pw_uid, self._user.pw_gid)
        self._run("initdb", "--pgdata", str(self.data), "--username", "postgres",
                  "--auth", "trust", "--encoding", "UTF8", "--no-sync")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str) -> None:
        options = (f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", action, "--pgdata", str(self.data), "--log", str(self.log),
                  "--wait", "--mode", "fast", "-o", options)

    def restart(self) -> None:
        """Stop and start the server (every connection is cut), as a real restart does."""
        self._pg_ctl("restart")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "--pgdata", str(self.data), "--wait",
                          "--mode", "immediate")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


class ThrowawayRedis:
    """`redis-server` on a free port of 127.0.0.1, keeping nothing on disk."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise Unavailable("redis-server is not installed (Debian/Ubuntu: "
                              "'sudo apt install redis-server')")
        self.executable = executable
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="helpdesk-redis-"))
        self.process: subprocess.Popen | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30) -> ThrowawayRedis:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)
