"""Start everything the bot needs; Ctrl-C stops all of it.

`python -m bot.ops.serve` is what `make run` calls: a local mail catcher (the embedded
default's SMTP relay, writing each mail to var/mail/), the outbox worker, the inbound mail
listener (users' replies by e-mail), the web app (reset page), the action server and the Rasa
server. Tests use `Stack` to run the same processes on
free ports with a database of their own.

Every process listens on 127.0.0.1. The action server (`bot.ops.action_server`) answers only
requests carrying the shared secret ACTION_SERVER_SECRET, which the Rasa server sends from its
endpoints file; the Rasa server's HTTP API needs the token RASA_API_TOKEN (`bot.ops.rasa_server`).
Both are random per stack unless set; `make run` keeps them in var/ so that `rasa shell` and
the measuring commands can use them.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bot.mail.inbound import tagged_address
from bot.settings import ACTION_SECRET_HEADER, ROOT, VAR, Settings, kept_secret

VENV_BIN = Path(sys.executable).parent
DEFAULT_MODEL = ROOT / "models" / "helpdesk.tar.gz"
MAIL_DIR = ROOT / "var" / "mail"
# The environment of every process started here: TensorFlow's start-up chatter and SQLAlchemy's
# 2.0 notice (about Rasa's own models) off; Rasa and the action server also drop third-party
# deprecation warnings as they start (`bot.ops.quiet`), so the terminal shows our lines.
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
         "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen,
                timeout: float) -> None:
    """Poll `ready` until it holds; fail early if `process` dies, or after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready within {timeout:.0f} s")


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    _wait_until(listening, f"port {port}", process, timeout)


def action_endpoint_yaml(url: str) -> str:
    """The `action_endpoint` of a Rasa endpoints file: the action server's URL and the shared
    secret, which Rasa reads from its environment (ACTION_SERVER_SECRET) when it starts."""
    return (f'action_endpoint:\n  url: "{url}"\n  headers:\n'
            f'    {ACTION_SECRET_HEADER}: ${{ACTION_SERVER_SECRET}}\n')


def _wait_for(url: str, process: subprocess.Popen, timeout: float) -> None:
    def answers() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200

    _wait_until(answers, url, process, timeout)


class Stack:
    """The whole bot: mail catcher, outbox worker, inbound mail listener, web app, action
    server, Rasa server.

    `env` adds settings (DATABASE_URL...) for every process; with `mail_dir` None, no mail
    catcher runs and the worker delivers to the SMTP relay configured in the environment.
    ACTION_SERVER_SECRET and RASA_API_TOKEN come from `env`, else the environment, else are
    made up for this stack; `api_url` gives an API address with the token.
    """

    def __init__(
        self,
        rasa_port: int = 5005,
        action_port: int = 5055,
        web_port: int = 8000,
        smtp_port: int = 8025,
        inbound_port: int = 8026,
        model: Path = DEFAULT_MODEL,
        log_dir: Path | None = None,
        mail_dir: Path | None = MAIL_DIR,
        env: dict[str, str] | None = None,
    ) -> None:
        self.rasa_port = rasa_port
        self.action_port = action_port
        self.web_port = web_port
        self.smtp_port = smtp_port
        self.inbound_port = inbound_port
        self.model = model
        self.log_dir = log_dir
        self.mail_dir = mail_dir
        self.env = {
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
            "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
            **(env or {}),
        }
        for name in ("ACTION_SERVER_SECRET", "RASA_API_TOKEN"):
            self.env.setdefault(name, os.environ.get(name) or secrets.token_hex(32))
        if mail_dir is not None:
            self.env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port))
        self.processes: list[subprocess.Popen] = []
        self._workdir = tempfile.TemporaryDirectory(prefix="helpdesk-stack-")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def api_token(self) -> str:
        return self.env["RASA_API_TOKEN"]

    @property
    def endpoints(self) -> Path:
        """The Rasa endpoints file of this stack (`rasa test` against its action server needs
        it, with ACTION_SERVER_SECRET from `env`)."""
        return Path(self._workdir.name) / "endpoints.yml"

    def api_url(self, path: str, base: str | None = None) -> str:
        """`path` of the Rasa HTTP API (of the server at `base`), with the token."""
        separator = "&" if "?" in path else "?"
        return f"{base or self.url}{path}{separator}token={self.api_token}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT), **self.env}
        if self.log_dir is None:
            output = None
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("w")
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
        )
        self.processes.append(process)
        return process

    def start(self, timeout: float = 180) -> Stack:
        if not self.model.exists():
            raise FileNotFoundError(f"no trained model at {self.model}: run `make train`")
        endpoints = self.endpoints
        endpoints.write_text(action_endpoint_yaml(f"http://127.0.0.1:{self.action_port}/webhook"))
        python = str(VENV_BIN / "python")
        if self.mail_dir is not None:
            catcher = self._spawn(
                "mailcatcher",
                [python, "-m", "bot.mail.catcher", "--dir", str(self.mail_dir),
                 "--port", str(self.smtp_port)],
            )
        self._spawn("mailer", [python, "-m", "bot.mail.worker"])
        receiver = self._spawn(
            "mailreceiver", [python, "-m", "bot.mail.receiver", "--port", str(self.inbound_port)]
        )
        web = self._spawn("web", [python, "-m", "bot.web", "--port", str(self.web_port)])
        actions = self._spawn(
            "actions", [python, "-m", "bot.ops.action_server", "--port", str(self.action_port)]
        )
        rasa = self._spawn(
            "rasa",
            [python, "-m", "bot.ops.rasa_server", "run", "--enable-api",
             "--interface", "127.0.0.1", "--port", str(self.rasa_port),
             "--model", str(self.model), "--credentials", "credentials.yml",
             "--endpoints", str(endpoints)],
        )
        try:
            if self.mail_dir is not None:
                _wait_for_port(self.smtp_port, catcher, timeout)
            _wait_for_port(self.inbound_port, receiver, timeout)
            _wait_for_port(self.web_port, web, timeout)
            _wait_for(f"http://127.0.0.1:{self.action_port}/health", actions, timeout)
            _wait_for(self.api_url("/status"), rasa, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self._workdir.cleanup()


HOW_TO_CHAT = """
The help-desk bot is running (Ctrl-C stops it).
  Help pages with the chat: http://127.0.0.1:{web_port}/
  Agents' console: http://127.0.0.1:{web_port}/console (demo agent: see above)
  Live chats: http://127.0.0.1:{web_port}/console/live ("I'm available", then ask the chat
    for a person in the desk's hours: Monday-Friday 8-4 Eastern, or LIVE_CHAT_HOURS=always)
  Rasa server (REST + socketio, HTTP API on loopback): http://127.0.0.1:{rasa_port}
    (the API takes ?token=$(cat var/rasa_api_token))
  Action server (only for the Rasa server: a shared secret): http://127.0.0.1:{action_port}
  Password-reset page: http://127.0.0.1:{web_port}/reset/<token from the e-mail>
  E-mails (local mail catcher on port {smtp_port}): {mail_dir}/*.eml, also printed here
  Replies by e-mail (SMTP listener on port {inbound_port}): to {reply_address}
    from the ticket's contact address; or a mailbox file: .venv/bin/helpdesk mail ingest FILE

Chat from a terminal:
  ACTION_SERVER_SECRET=$(cat var/action_server_secret) .venv/bin/rasa shell --port 5006
Or over REST:
  curl -s localhost:{rasa_port}/webhooks/rest/webhook \\
       -d '{{"sender":"a","message":"does massone cost anything?"}}'
Try a ticket: "I want to talk to a person", then ask "what is the status of HD-...".
Tickets filed:          .venv/bin/helpdesk tickets list   (and: tickets show HD-...)
"""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_until_interrupted(stack: Stack, starting: str, banner: Callable[[], str]) -> int:
    """Start `stack`, print `banner()`, and keep it up until Ctrl-C, SIGTERM or a crash."""
    # Explicit handlers: a shell starting us in the background may have set SIGINT to "ignore".
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print(starting, flush=True)
    try:
        stack.start()
        print(banner(), flush=True)
        while all(process.poll() is None for process in stack.processes):
            time.sleep(1)
        print("A process stopped unexpectedly; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    finally:
        stack.stop()


def main() -> int:
    stack = Stack(env={
        "ACTION_SERVER_SECRET": os.environ.get("ACTION_SERVER_SECRET")
        or kept_secret(VAR / "action_server_secret"),
        "RASA_API_TOKEN": os.environ.get("RASA_API_TOKEN") or kept_secret(VAR / "rasa_api_token"),
    })
    reply_address = tagged_address(Settings.from_env().inbound.address, "HD-<year>-<number>")
    return run_until_interrupted(
        stack, "Starting the action server and the Rasa server (about 30 s)...",
        lambda: HOW_TO_CHAT.format(rasa_port=stack.rasa_port, action_port=stack.action_port,
                                   web_port=stack.web_port, smtp_port=stack.smtp_port,
                                   mail_dir=stack.mail_dir, inbound_port=stack.inbound_port,
                                   reply_address=reply_address),
    )


if __name__ == "__main__":
    sys.exit(main())
