"""Shared fixtures: the knowledge base, and a real running stack (Rasa server + action server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import os
import secrets
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from throwaway import ThrowawayPostgres, Unavailable

from bot.cli import DEMO_ACCOUNTS
from bot.db import make_engine, session_factory, upgrade
from bot.directory.admins_import import import_admins
from bot.directory.cli import DEMO_ADMINS
from bot.knowledge.entries import KnowledgeBase, load_knowledge
from bot.ops.serve import DEFAULT_MODEL, Stack, free_port
from bot.recovery import passwords
from bot.recovery.accounts_import import import_accounts, read_file
from bot.web import make_runner

ARTIFACTS = Path(__file__).parent / "artifacts"


# Tiers: a test is marked by the fixtures it uses (or by its module), so `make check` can leave out
# what needs the trained model, running servers, a browser or the cluster.
FIXTURE_MARKS = {
    "stack": ("model", "servers"),
    "chat": ("model", "servers"),
    "browser": ("browser",),
}
MODULE_MARKS = {
    "test_browser": ("browser", "model", "servers"),
    "test_cluster": ("cluster", "model", "servers"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        marks = {mark for name in names & FIXTURE_MARKS.keys() for mark in FIXTURE_MARKS[name]}
        marks.update(MODULE_MARKS.get(item.module.__name__.rpartition(".")[2], ()))
        for mark in sorted(marks):
            item.add_marker(mark)
        if "model" in marks:
            # Under `pytest -n N --dist loadgroup` (make test) the tests of the running stack
            # and the cluster share one worker, one after the other: one stack is started, and
            # two never compete for the cores; the light tests spread over the other workers.
            item.add_marker(pytest.mark.xdist_group("servers"))


# argon2id at its lowest cost for the tests run in this process (as Django's test settings swap in
# a fast hasher): the same code, a fraction of the CPU (the RFC 9106 defaults take 64 MiB and
# most of a second per sign-in on a busy machine). tests/test_passwords.py keeps production's
# parameters, and the servers the tests start use them too.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.module.__name__.rpartition(".")[2] != "test_passwords":
        monkeypatch.setattr(passwords, "_HASHER", FAST_ARGON2)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The whole bot for real, on free ports, with a SQLite database holding the demo accounts
    and a local mail catcher writing to a temporary folder; `make test` trains the model first."""
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run the suite with `make test`")
    home = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite:///{home / 'helpdesk.sqlite3'}"
    upgrade(database_url)
    with session_factory(make_engine(database_url))() as session:
        import_accounts(session, read_file(DEMO_ACCOUNTS))
        import_admins(session, read_file(DEMO_ADMINS))
    running = Stack(
        rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
        smtp_port=free_port(), inbound_port=free_port(), log_dir=ARTIFACTS / "logs",
        mail_dir=home / "mail",
        # Live chat at any hour (the suite runs on weekends too); an agent's closed console
        # counts as gone after 6 s instead of 30.
        env={"DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
             "LIVE_CHAT_HOURS": "always", "LIVE_AGENT_TIMEOUT_SECONDS": "6"},
    ).start()
    yield running
    running.stop()


class Chat:
    """One user talking to the REST channel; keeps what the bot said."""

    def __init__(self, stack: Stack, sender: str) -> None:
        self.url = f"{stack.url}/webhooks/rest/webhook"
        self.sender = sender

    def say(self, message: str) -> list[dict[str, Any]]:
        body = json.dumps({"sender": self.sender, "message": message}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def chat(stack: Stack, request: pytest.FixtureRequest) -> Chat:
    return Chat(stack, sender=f"test-{request.node.name}")


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(reply["text"] for reply in replies if "text" in reply)


def payloads(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [reply["custom"] for reply in replies if "custom" in reply]


def buttons(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [button for reply in replies for button in reply.get("buttons", [])]


def mails_to(stack: Stack, address: str, after: int = 0, wait: float = 20) -> list:
    """Mails the local catcher received for `address`, waiting up to `wait` s for more than
    `after` of them."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for path in sorted(stack.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        if len(found) > after or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def converse(chat: Chat, *messages: str) -> str:
    replies = ""
    for message in messages:
        replies = texts(chat.say(message))
    return replies


@pytest.fixture
def action_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Actions run in this process talk to a fresh, migrated SQLite database."""
    from bot import services

    url = f"sqlite:///{tmp_path / 'actions.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    cached = (services.settings, services.sessions, services.recovery_service,
              services.ticket_service, services.live_desk)
    for function in cached:
        function.cache_clear()
    yield url
    for function in cached:
        function.cache_clear()


class LiveServer:
    """An aiohttp app served for real (AppRunner + TCPSite) on a free port, on its own event loop
    in a thread, for tests that talk to it over HTTP."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.runner = make_runner(app)
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()  # port 0: a free port
        self.port = self.runner.addresses[0][1]

    def start(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(10), "the server did not start"
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Clock:
    """A settable clock for services that take one."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "helpdesk.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of the PostgreSQL the tests use: TEST_POSTGRES_URL when set, else a
    throwaway server of this test process's own (tests/throwaway.py), never the machine's.
    Missing PostgreSQL fails under CI=true and skips elsewhere."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    try:
        server = ThrowawayPostgres().start()
    except (Unavailable, RuntimeError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {error}")
        pytest.skip(f"no PostgreSQL for the tests: {error}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """One migrated PostgreSQL database per test process (per xdist worker), dropped at the end.

    Creating and dropping a database per test costs a second or two each (a drop waits for a
    checkpoint); emptying one takes a fraction of that.
    """
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", future=True)
    try:
        connection = admin.connect()
    except OperationalError as error:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable at {postgres_server}")
    name = f"helpdesk_test_{secrets.token_hex(6)}"
    connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.close()
        admin.dispose()


def empty_database(url: str) -> None:
    """Delete every row (ids start again at 1), keeping the schema and its migration stamp;
    connections a previous test left open are closed first, as DROP ... WITH (FORCE) would."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", future=True)
    try:
        with engine.connect() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            tables = connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")).scalars().all()
            if tables:
                names = ", ".join(f'"{table}"' for table in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite file, and the same on PostgreSQL (a database of
    this test process's own, emptied for each test; see `postgres_database`)."""
    if request.param == "sqlite":
        path = tmp_path / "helpdesk.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        path.chmod(0o600)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    empty_database(url)
    return url
