"""The production topology on one machine: `make cluster` (Ctrl-C stops all of it).

Two Rasa servers sharing a SQL tracker store on PostgreSQL and a Redis lock store, two action
servers, the web app and the outbox worker, all on the application database in PostgreSQL,
behind nginx on one port (the chat, the REST channel and the web app) plus one for the action
servers, which the Rasa servers call. Everything is configured from the environment
(`.env.example`); the defaults are this machine's PostgreSQL (127.0.0.1:5432, user postgres) and
Redis (127.0.0.1:6379). README "Production" says how the same pieces map onto several machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from bot.ops.serve import (
    DEFAULT_MODEL,
    MAIL_DIR,
    ROOT,
    VENV_BIN,
    Stack,
    _wait_for,
    _wait_for_port,
    action_endpoint_yaml,
    free_port,
    run_until_interrupted,
)
from bot.rasa_plugins.lock_store import TICKET_LOCK_LIFETIME
from bot.settings import Settings, write_private

CLUSTER_DIR = ROOT / "var" / "cluster"
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/helpdesk"
DEFAULT_TRACKER_STORE_URL = "postgresql://postgres@127.0.0.1:5432/helpdesk_tracker"
DEFAULT_LOCK_STORE_URL = "redis://127.0.0.1:6379/1"
LIMIT_BURST = 20  # requests a client may send at once past nginx's per-client rate
# The largest request body nginx passes on, per place: a chat message is 2,000 characters at
# most (CHAT_MESSAGE_MAX_CHARS), the console's largest form is an answer being edited, and an
# action call carries the conversation.
BODY_LIMITS = {"webhooks": "16k", "socket.io": "16k", "web": "256k", "actions": "8m"}


@dataclass(frozen=True)
class Topology:
    """Where every piece listens (all on 127.0.0.1)."""

    front_port: int = 8080  # nginx: chat, REST channel, web app
    action_front_port: int = 8081  # nginx: the action servers, for the Rasa servers
    rasa_ports: tuple[int, ...] = (5105, 5106)
    action_ports: tuple[int, ...] = (5155, 5156)
    web_port: int = 8100
    smtp_port: int = 8025
    # nginx's limits per client address (requests per second, with a burst of LIMIT_BURST):
    # the chat channels, and the console and reset pages.
    chat_rate: int = 10
    pages_rate: int = 5

    @classmethod
    def free(cls, servers: int = 2) -> Topology:
        """Free ports for everything (tests and the bench, whose many simulated users all come
        from 127.0.0.1: the per-client limits are set out of their way)."""
        return cls(
            front_port=free_port(), action_front_port=free_port(),
            rasa_ports=tuple(free_port() for _ in range(servers)),
            action_ports=tuple(free_port() for _ in range(servers)),
            web_port=free_port(), smtp_port=free_port(), chat_rate=10_000, pages_rate=10_000,
        )


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names if it does not exist yet."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          future=True)
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            ).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def endpoints_yaml(action_url: str, tracker_store_url: str, lock_store_url: str) -> str:
    """Rasa's endpoints for a cluster member: SQL tracker store, Redis lock store."""
    tracker: URL = make_url(tracker_store_url)
    lock: URL = make_url(lock_store_url)

    def quoted(value: object) -> str:
        return '"' + str(value or "").replace("\\", "\\\\").replace('"', '\\"') + '"'

    return action_endpoint_yaml(action_url) + "\n".join([
        "tracker_store:",
        "  type: bot.rasa_plugins.tracker_store.RetryingSQLTrackerStore",
        f"  dialect: {quoted(tracker.get_backend_name())}",
        f"  url: {quoted(tracker.host or '127.0.0.1')}",
        f"  port: {tracker.port or 5432}",
        f"  db: {quoted(tracker.database)}",
        f"  username: {quoted(tracker.username)}",
        f"  password: {quoted(tracker.password)}",
        "lock_store:",
        "  type: bot.rasa_plugins.lock_store.AtomicRedisLockStore",
        f"  url: {quoted(lock.host or '127.0.0.1')}",
        f"  port: {lock.port or 6379}",
        f"  db: {int(lock.database or 0)}",
        f"  password: {quoted(lock.password)}" if lock.password else "",
        "  key_prefix: helpdesk",
        "",
    ])


def nginx_conf(topology: Topology, directory: Path) -> str:
    """nginx in front: round robin over the Rasa servers (a server that refuses connections is
    skipped), WebSockets for the chat, the web app, and the action servers on a second port.
    The access log names no paths: a reset link's token must not land in a log. Bodies are
    capped per location (BODY_LIMITS: 413 above), and a request with a Content-Encoding is
    refused (415): nothing here sends one, and an inflated body is a way to exhaust memory.
    Each client address gets `chat_rate` requests a second on the chat channels and
    `pages_rate` on the console and reset pages (bursts of LIMIT_BURST); past that, 429 Too
    Many Requests."""
    limit = f"      limit_req zone={{zone}} burst={LIMIT_BURST} nodelay;\n"

    def upstream(name: str, ports: tuple[int, ...]) -> str:
        servers = "".join(
            f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in ports
        )
        return f"  upstream {name} {{\n{servers}    keepalive 16;\n  }}\n"

    proxy = (
        "      proxy_http_version 1.1;\n"
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "      proxy_next_upstream error timeout http_502 http_503;\n"
    )
    return f"""worker_processes 2;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/logs/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
  log_format noquery '$remote_addr [$time_local] $request_method $status '
                     '$body_bytes_sent $request_time $upstream_addr';
  access_log {directory}/logs/nginx-access.log noquery;
  client_body_temp_path {directory}/tmp/body;
  proxy_temp_path {directory}/tmp/proxy;
  fastcgi_temp_path {directory}/tmp/fastcgi;
  uwsgi_temp_path {directory}/tmp/uwsgi;
  scgi_temp_path {directory}/tmp/scgi;
  client_max_body_size {BODY_LIMITS["web"]};
  # Bodies and responses stay in memory: nginx's workers (another user when started as root)
  # need no writable temporary files.
  client_body_buffer_size {BODY_LIMITS["actions"]};
  proxy_buffer_size 64k;
  proxy_buffers 16 64k;
  proxy_max_temp_file_size 0;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  limit_req_zone $binary_remote_addr zone=chat:10m rate={topology.chat_rate}r/s;
  limit_req_zone $binary_remote_addr zone=pages:10m rate={topology.pages_rate}r/s;
  limit_req_status 429;
{upstream("rasa", topology.rasa_ports)}{upstream("actions", topology.action_ports)}\
{upstream("web", (topology.web_port,))}
  server {{
    listen 127.0.0.1:{topology.front_port};
    if ($http_content_encoding) {{ return 415; }}
    location /socket.io/ {{
{limit.format(zone="chat")}      client_max_body_size {BODY_LIMITS["socket.io"]};
      proxy_pass http://rasa;
{proxy}      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
    }}
    location /webhooks/ {{
{limit.format(zone="chat")}      client_max_body_size {BODY_LIMITS["webhooks"]};
      proxy_pass http://rasa;
{proxy}      proxy_set_header Connection "";
    }}
    location ~ ^/(console|reset)(/|$) {{
{limit.format(zone="pages")}      proxy_pass http://web;
{proxy}      proxy_set_header Connection "";
    }}
    location / {{
      proxy_pass http://web;
{proxy}      proxy_set_header Connection "";
    }}
  }}
  server {{
    listen 127.0.0.1:{topology.action_front_port};
    if ($http_content_encoding) {{ return 415; }}
    client_max_body_size {BODY_LIMITS["actions"]};
    location / {{
      proxy_pass http://actions;
{proxy}      proxy_set_header Connection "";
    }}
  }}
}}
"""


class Cluster(Stack):
    """Several Rasa and action servers behind nginx, on PostgreSQL and Redis.

    Mail goes to the relay of SMTP_* unless `mail_dir` asks for the local catcher; reset links
    point to PUBLIC_BASE_URL (default: nginx's address). The Rasa servers' HTTP API runs only
    with `enable_api` (tests read trackers through it), with the token RASA_API_TOKEN.
    """

    def __init__(
        self,
        topology: Topology = Topology(),
        database_url: str | None = None,
        tracker_store_url: str | None = None,
        lock_store_url: str | None = None,
        model: Path = DEFAULT_MODEL,
        directory: Path = CLUSTER_DIR,
        mail_dir: Path | None = None,
        env: dict[str, str] | None = None,
        nginx: str | None = None,
        enable_api: bool = False,
    ) -> None:
        self.topology = topology
        self.directory = directory
        self.database_url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        self.tracker_store_url = (tracker_store_url or os.environ.get("TRACKER_STORE_URL")
                                  or DEFAULT_TRACKER_STORE_URL)
        self.lock_store_url = (lock_store_url or os.environ.get("LOCK_STORE_URL")
                               or DEFAULT_LOCK_STORE_URL)
        self.nginx = nginx or shutil.which("nginx") or "/usr/sbin/nginx"
        self.enable_api = enable_api
        front = f"http://127.0.0.1:{topology.front_port}"
        super().__init__(
            rasa_port=topology.front_port, action_port=topology.action_front_port,
            web_port=topology.web_port, smtp_port=topology.smtp_port, model=model,
            log_dir=directory / "logs", mail_dir=mail_dir,
            env={"DATABASE_URL": self.database_url,
                 "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or front,
                 "RASA_PUBLIC_URL": os.environ.get("RASA_PUBLIC_URL") or front,
                 "TICKET_LOCK_LIFETIME": str(TICKET_LOCK_LIFETIME), **(env or {})},
        )
        self.rasa_processes: dict[int, subprocess.Popen] = {}

    def rasa_url(self, index: int) -> str:
        """One Rasa server directly, bypassing nginx."""
        return f"http://127.0.0.1:{self.topology.rasa_ports[index]}"

    def _ready_url(self, index: int) -> str:
        """What answers once Rasa server `index` is up: its status (API), else its root."""
        if self.enable_api:
            return self.api_url("/status", base=self.rasa_url(index))
        return self.rasa_url(index) + "/"

    def start(self, timeout: float = 240) -> Cluster:
        if not self.model.exists():
            raise FileNotFoundError(f"no trained model at {self.model}: run `make train`")
        for folder in ("logs", "tmp"):
            (self.directory / folder).mkdir(parents=True, exist_ok=True)
        ensure_database(self.database_url)
        ensure_database(self.tracker_store_url)
        python = str(VENV_BIN / "python")
        subprocess.run([python, "-m", "bot.cli", "db", "upgrade"], check=True, cwd=ROOT,
                       env={**os.environ, **self.env}, stdout=subprocess.DEVNULL)
        endpoints = self.directory / "endpoints.yml"
        write_private(endpoints, endpoints_yaml(  # it holds the tracker store's password
            f"http://127.0.0.1:{self.topology.action_front_port}/webhook",
            self.tracker_store_url, self.lock_store_url,
        ))
        conf = self.directory / "nginx.conf"
        conf.write_text(nginx_conf(self.topology, self.directory))
        waits = []
        if self.mail_dir is not None:
            catcher = self._spawn("mailcatcher", [
                python, "-m", "bot.mail.catcher", "--dir", str(self.mail_dir),
                "--port", str(self.smtp_port)])
            waits.append(lambda: _wait_for_port(self.smtp_port, catcher, timeout))
        self._spawn("mailer", [python, "-m", "bot.mail.worker"])
        web = self._spawn("web", [python, "-m", "bot.web", "--port", str(self.web_port)])
        waits.append(lambda: _wait_for_port(self.web_port, web, timeout))
        for index, port in enumerate(self.topology.action_ports):
            actions = self._spawn(f"actions-{index}", [
                python, "-m", "bot.ops.action_server", "--port", str(port)])
            waits.append(lambda a=actions, p=port: _wait_for(
                f"http://127.0.0.1:{p}/health", a, timeout))
        front = self._spawn("nginx", [self.nginx, "-p", str(self.directory), "-c", str(conf)])
        try:
            # The first server creates the tracker store's tables; the others start after it,
            # so that two servers never race to create them.
            self.start_rasa(0, endpoints, timeout=timeout)
            for index in range(1, len(self.topology.rasa_ports)):
                self.start_rasa(index, endpoints, wait=False)
            for wait in waits:
                wait()
            for index, process in self.rasa_processes.items():
                _wait_for(self._ready_url(index), process, timeout)
            _wait_for(f"http://127.0.0.1:{self.topology.front_port}/", front, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def start_rasa(self, index: int, endpoints: Path | None = None, wait: bool = True,
                   timeout: float = 240) -> subprocess.Popen:
        """Start (or restart) Rasa server `index`."""
        endpoints = endpoints or self.directory / "endpoints.yml"
        process = self._spawn(f"rasa-{index}", [
            str(VENV_BIN / "python"), "-m", "bot.ops.rasa_server", "run",
            *(["--enable-api"] if self.enable_api else []), "--interface", "127.0.0.1",
            "--port", str(self.topology.rasa_ports[index]), "--model", str(self.model),
            "--credentials", "credentials.yml", "--endpoints", str(endpoints)])
        self.rasa_processes[index] = process
        if wait:
            _wait_for(self._ready_url(index), process, timeout)
        return process

    def kill_rasa(self, index: int) -> None:
        """Kill Rasa server `index` outright (SIGKILL), as a crash would."""
        process = self.rasa_processes[index]
        process.kill()
        process.wait()


HOW_TO_USE = """
The cluster is running (Ctrl-C stops it): {servers} Rasa servers, {servers} action servers,
the web app and the outbox worker, on PostgreSQL and Redis, behind nginx.
  Help pages, chat and console: http://127.0.0.1:{front}/
  REST channel: http://127.0.0.1:{front}/webhooks/rest/webhook
  Each Rasa server directly: {direct}
  Mail: {mail}
  Reset links point to: {public}
  Logs: {logs}
Load test it from another terminal: make bench
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=2, help="Rasa and action servers")
    parser.add_argument("--mail-catcher", action="store_true",
                        help=f"deliver mail to a local catcher writing to {MAIL_DIR} instead "
                             "of the SMTP relay of SMTP_HOST/SMTP_PORT (a demo on one machine)")
    args = parser.parse_args(argv)
    topology = Topology(
        rasa_ports=tuple(5105 + i for i in range(args.servers)),
        action_ports=tuple(5155 + i for i in range(args.servers)),
    )
    cluster = Cluster(topology, mail_dir=MAIL_DIR if args.mail_catcher else None)
    smtp = Settings.from_env().smtp
    mail = (f"the local catcher, {MAIL_DIR}/*.eml" if args.mail_catcher
            else f"the SMTP relay at {smtp.host}:{smtp.port} (SMTP_*)")
    return run_until_interrupted(
        cluster, "Starting the cluster (about a minute)...",
        lambda: HOW_TO_USE.format(
            servers=args.servers, front=topology.front_port, logs=cluster.directory / "logs",
            direct=", ".join(cluster.rasa_url(i) for i in range(args.servers)), mail=mail,
            public=cluster.env["PUBLIC_BASE_URL"]),
    )


if __name__ == "__main__":
    sys.exit(main())
