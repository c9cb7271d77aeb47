"""The production topology (`bot.ops.cluster`) against the real services: two Rasa servers sharing a
SQL tracker store on PostgreSQL and a Redis lock store, behind nginx, with the action servers,
the web app, the outbox worker and a mail catcher.

What must hold: a conversation keeps every event, in order, whichever server takes each message
(even two messages of one conversation arriving at two servers at the same moment); a server
killed under load loses nothing that was answered and its conversations carry on through the
other; a PostgreSQL restart neither loses nor duplicates a ticket; an SMTP outage delays mail
and never loses or repeats it.

The cluster starts once for the module (30-40 s), on a PostgreSQL and a Redis server of its own
(tests/throwaway.py: the machine's binaries, a temporary directory, free ports, removed
afterwards), so the PostgreSQL restart test disturbs nothing else on the machine. It needs
PostgreSQL's and Redis's server binaries, nginx and a trained model; missing ones fail under
CI=true and skip elsewhere.
"""

from __future__ import annotations

import email
import email.policy
import functools
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest.mock
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from throwaway import ThrowawayPostgres, ThrowawayRedis, Unavailable

from bot.db import make_engine, session_factory
from bot.ops.cluster import Cluster, Topology, endpoints_yaml
from bot.ops.serve import DEFAULT_MODEL, ROOT, VENV_BIN
from bot.privacy.redaction import ANSWER_LABELS, FACT_LABEL
from bot.rasa_plugins.lock_store import TICKET_LOCK_LIFETIME
from bot.tickets.service import TicketService, reference_of

RUN = secrets.token_hex(3)  # every conversation and Redis key of this run starts with ct<RUN>
CLIENT_TIMEOUT = 45.0  # s; above the lock lifetime (how long a dead server's ticket can block)
DONE = re.compile(r"Done: your request is (HD-\d{4}-\d{6})")
HANDOFF = "can I talk to a real person please"
SUMMARY = "My school's MassONE roster is missing half of my students."
YES = "/affirm"
FAQS = [
    "does massone cost anything?",
    "What is the ESE Security Portal?",
    "Is the ESE Security Portal secure?",
    "What is a Directory Administrator?",
    "Are user names and passwords case sensitive?",
    "What is ELAR and how do I get into it?",
    "Which applications can I reach through the ESE Security Portal?",
    "How do I change my ESE Security Portal password?",
    "Can I choose or change my ESE Security Portal User Name?",
    "How do I contact ESE customer service about the Security Portal?",
    "What does it mean when my Profile is a partial match?",
    "Could I already have an ESE Security Portal User Name?",
]


# ----------------------------------------------------------------------------- services
def unavailable(reason: str) -> None:
    """A missing service fails the run under CI=true and skips it elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@dataclass
class Services:
    """The cluster's own PostgreSQL and Redis (set by the `services` fixture)."""

    postgres: ThrowawayPostgres | None = None
    redis: ThrowawayRedis | None = None


SERVICES = Services()


def postgres_admin_url() -> str:
    assert SERVICES.postgres is not None, "the services fixture starts PostgreSQL"
    return SERVICES.postgres.url


def redis_url() -> str:
    assert SERVICES.redis is not None, "the services fixture starts Redis"
    return SERVICES.redis.url(4)


def postgres_is_up(url: str, timeout: int = 1) -> bool:
    engine = create_engine(url, future=True, connect_args={"connect_timeout": timeout})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(redis_url(), socket_timeout=5)


def check_services() -> None:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run the suite with `make test`")
    if not postgres_is_up(postgres_admin_url(), timeout=3):
        unavailable(f"PostgreSQL not reachable at {postgres_admin_url()}")
    import redis

    try:
        redis_client().ping()
    except redis.exceptions.RedisError as error:
        unavailable(f"Redis not reachable at {redis_url()}: {error}")
    if shutil.which("nginx") is None:
        unavailable("nginx is not installed (`make test` installs it)")


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.2) -> Any:
    """Poll `condition` until it returns something true; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def services() -> Services:
    """A throwaway PostgreSQL and Redis for the module, removed afterwards."""
    try:
        SERVICES.postgres = ThrowawayPostgres().start()
        SERVICES.redis = ThrowawayRedis().start()
    except Unavailable as error:
        unavailable(str(error))
    try:
        yield SERVICES
    finally:
        for server in (SERVICES.redis, SERVICES.postgres):
            if server is not None:
                server.stop()
        SERVICES.postgres = SERVICES.redis = None


@pytest.fixture(scope="module")
def cluster(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    check_services()
    admin_url = postgres_admin_url()
    name = f"helpdesk_ct_{RUN}"

    def database(suffix: str = "") -> str:
        return make_url(admin_url).set(database=name + suffix).render_as_string(
            hide_password=False)

    directory = tmp_path_factory.mktemp("cluster")
    running = Cluster(
        Topology.free(), database_url=database(), tracker_store_url=database("_tracker"),
        lock_store_url=redis_url(), directory=directory, mail_dir=directory / "mail",
        env={"SECRET_KEY": "test-secret-key"}, enable_api=True,
    )
    started = time.monotonic()
    try:
        running.start()
        print(f"\ncluster started in {time.monotonic() - started:.0f} s; logs in "
              f"{directory / 'logs'}")
        yield running
    finally:
        running.stop()
        wait_until(lambda: postgres_is_up(admin_url), 60, "PostgreSQL back for the clean-up")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        try:
            drop_database(admin, name)
            drop_database(admin, name + "_tracker")
        finally:
            admin.dispose()
        redis = redis_client()
        for key in redis.scan_iter(match=f"*ct{RUN}*"):
            redis.delete(key)


@pytest.fixture(autouse=True)
def servers_running(cluster: Cluster) -> None:
    """Each test starts with PostgreSQL up and every Rasa server running (a test may kill one)."""
    wait_until(lambda: postgres_is_up(postgres_admin_url()), 60, "PostgreSQL up")
    for index, process in list(cluster.rasa_processes.items()):
        if process.poll() is not None:
            cluster.start_rasa(index)


@pytest.fixture(scope="module")
def tracker_db(cluster: Cluster) -> Engine:
    engine = create_engine(cluster.tracker_store_url, future=True, pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app_db(cluster: Cluster) -> Engine:
    engine = make_engine(cluster.database_url)
    yield engine
    engine.dispose()


# ----------------------------------------------------------------------------- the client
@dataclass
class Exchange:
    """One message sent over the REST channel and what came back."""

    sender: str
    message: str
    server: str
    started: float = 0.0  # time.monotonic()
    seconds: float = 0.0
    status: int | None = None  # None: no HTTP answer at all (refused, reset, timed out)
    replies: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.status == 200

    @property
    def texts(self) -> list[str | None]:
        return [reply.get("text") for reply in self.replies]

    @property
    def text(self) -> str:
        return "\n".join(text for text in self.texts if text)

    def __str__(self) -> str:
        outcome = self.status if self.status is not None else self.error
        return f"{self.message[:40]!r} -> {outcome} {self.text[:60]!r} ({self.seconds:.1f} s)"


def connect(base_url: str, timeout: float = CLIENT_TIMEOUT) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def send(base_url: str, sender: str, message: str, timeout: float = CLIENT_TIMEOUT,
         connection: http.client.HTTPConnection | None = None) -> Exchange:
    """POST one message to the REST channel at `base_url`; never raises."""
    exchange = Exchange(sender, message, base_url, started=time.monotonic())
    connection = connection or connect(base_url, timeout)
    body = json.dumps({"sender": sender, "message": message})
    try:
        connection.request("POST", "/webhooks/rest/webhook", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        exchange.status = response.status
        if response.status == 200:
            exchange.replies = json.loads(payload)
        else:
            exchange.error = payload[:200].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError) as error:
        exchange.error = f"{type(error).__name__}: {error}"
    finally:
        connection.close()
        exchange.seconds = time.monotonic() - exchange.started
    return exchange


def sender_id(name: str) -> str:
    return f"ct{RUN}-{name}"


def address(name: str) -> str:
    return f"ct{RUN}.{name}@example.org"


def reference(exchange: Exchange) -> str | None:
    found = DONE.search(exchange.text)
    return found.group(1) if found else None


# ----------------------------------------------------------------------------- trackers
@dataclass
class Turn:
    """A user event in the stored tracker and the events up to the next user event."""

    text: str
    bot_texts: list[str | None]
    last_action: str | None
    first_id: int


def stored_events(tracker_db: Engine, sender: str) -> list[Any]:
    with tracker_db.connect() as connection:
        return connection.execute(
            text("SELECT id, type_name, action_name, data FROM events "
                 "WHERE sender_id = :sender ORDER BY id"), {"sender": sender},
        ).all()


def turns_of(events: Sequence[Any]) -> list[Turn]:
    turns: list[Turn] = []
    for event in events:
        data = json.loads(event.data)
        if event.type_name == "user":
            turns.append(Turn(data.get("text") or "", [], None, event.id))
        elif turns and event.type_name == "bot":
            turns[-1].bot_texts.append(data.get("text"))
        elif turns and event.type_name == "action":
            turns[-1].last_action = event.action_name
    return turns


_LABELS = re.compile("|".join(re.escape(label) for label in (*ANSWER_LABELS.values(), FACT_LABEL)))


def stored_as(stored: str | None, sent: str | None) -> bool:
    """Whether `stored` is `sent` as the tracker store keeps it: the same text, or the text with
    the personal data the forms collect replaced by its label (bot.privacy.redaction)."""
    if stored is None or sent is None:
        return stored == sent
    parts = _LABELS.split(stored)
    labels = _LABELS.findall(stored)
    pattern = "".join(re.escape(part) + (".+?" if k < len(labels) else "")
                      for k, part in enumerate(parts))
    return re.fullmatch(pattern, sent, re.DOTALL) is not None


def tracker_problems(tracker_db: Engine, sender: str, sent: Sequence[Exchange]) -> list[str]:
    """What is wrong with the stored conversation `sender`, given what was sent, in order.

    Every message answered 200 must be stored once, in order, followed by exactly the replies
    that were returned and then by action_listen (the bot was done); form answers and the facts
    they gave are stored redacted (`stored_as`). A message that got no 200
    may or may not be stored (the server may have died after saving), but nothing that was not
    sent may be, and the conversation has one session: no second session_started.
    """
    events = stored_events(tracker_db, sender)
    turns = turns_of(events)
    problems = []
    sessions = sum(event.type_name == "session_started" for event in events)
    if sessions != 1:
        problems.append(f"{sessions} session_started events (the tracker was started again)")

    @functools.cache
    def match(i: int, j: int) -> tuple[tuple[int, int], ...] | None:
        """Pairs (sent index, turn index): the turns are the sent messages in order, skipping
        only messages that were not answered."""
        if j == len(turns):
            return () if all(not x.answered for x in sent[i:]) else None
        if i == len(sent):
            return None
        if stored_as(turns[j].text, sent[i].message):
            rest = match(i + 1, j + 1)
            if rest is not None:
                return ((i, j), *rest)
        return match(i + 1, j) if not sent[i].answered else None

    pairs = match(0, 0)
    if pairs is None:
        problems.append(mismatch([turn.text for turn in turns], sent))
        return problems
    for i, j in pairs:
        exchange, turn = sent[i], turns[j]
        if exchange.answered and not (
                len(turn.bot_texts) == len(exchange.texts)
                and all(map(stored_as, turn.bot_texts, exchange.texts))):
            problems.append(f"{exchange.message!r} (event {turn.first_id}) is followed by bot "
                            f"events {turn.bot_texts!r}, but the reply was {exchange.texts!r}")
        if turn.last_action != "action_listen":
            problems.append(f"{exchange.message!r} (event {turn.first_id}): the turn ends with "
                            f"{turn.last_action!r}, not action_listen")
    return problems


def mismatch(stored: list[str], sent: Sequence[Exchange]) -> str:
    """Why the stored user messages are not the sent ones, in order."""
    left = Counter(stored)
    lost = []
    for exchange in sent:
        if left[exchange.message]:
            left[exchange.message] -= 1
        elif exchange.answered:
            lost.append(exchange.message)
    extra = sorted((+left).elements())
    what = "; ".join(part for part in [
        f"answered 200 but not stored: {lost!r}" if lost else "",
        f"stored but not sent (or more often): {extra!r}" if extra else "",
        "stored in another order" if not lost and not extra else "",
    ] if part)
    listing = [str(x) for x in sent][:16] + (["..."] if len(sent) > 16 else [])
    return (f"{what}\n    sent:   " + "\n            ".join(listing)
            + f"\n    stored: {[message[:40] for message in stored]!r}")


def tracker_failures(tracker_db: Engine, conversations: dict[str, list[Exchange]]) -> str:
    """What is wrong with the stored conversations; empty if nothing."""
    failures = {sender: problems for sender, sent in conversations.items()
                if (problems := tracker_problems(tracker_db, sender, sent))}
    if not failures:
        return ""
    return (f"{len(failures)} of {len(conversations)} conversations are not stored as they "
            "happened:\n" + "\n".join(f"- {sender}: " + "\n  ".join(problems)
                                      for sender, problems in failures.items()))


def assert_trackers(tracker_db: Engine, conversations: dict[str, list[Exchange]]) -> None:
    failures = tracker_failures(tracker_db, conversations)
    assert not failures, failures


def tickets_of(app_db: Engine) -> TicketService:
    return TicketService(session_factory(app_db))


def outbox_rows(app_db: Engine, to_address: str) -> list[Any]:
    with app_db.connect() as connection:
        return connection.execute(
            text("SELECT id, kind, attempts, sent_at, last_error FROM outbox "
                 "WHERE to_address = :address ORDER BY id"), {"address": to_address},
        ).all()


def handoff(name: str) -> list[str]:
    """A ticket for a person, from the first message to the confirmation."""
    return [HANDOFF, SUMMARY, address(name), YES]


# ----------------------------------------------------------------------------- 1, 2
def test_one_conversation_alternating_between_servers_keeps_every_event(
    cluster: Cluster, tracker_db: Engine, app_db: Engine,
) -> None:
    sender = sender_id("alternating")
    messages = [FAQS[0], FAQS[1], *handoff("alternating"), FAQS[2], FAQS[3], FAQS[4], FAQS[0]]
    sent = [send(cluster.rasa_url(i % 2), sender, message) for i, message in enumerate(messages)]

    assert all(x.answered for x in sent), "\n".join(map(str, sent))
    assert "no charge" in sent[0].text
    done = reference(sent[5])
    assert done, f"no ticket reference in {sent[5]}"
    assert tickets_of(app_db).get(done)[0].contact_email == address("alternating")
    assert_trackers(tracker_db, {sender: sent})
    # Each server reads the same conversation back from the shared store.
    for index in (0, 1):
        connection = connect(cluster.rasa_url(index))
        connection.request("GET", f"/conversations/{sender}/tracker?token={cluster.api_token}")
        events = json.loads(connection.getresponse().read())["events"]
        connection.close()
        read = [e["text"] for e in events if e["event"] == "user"]
        assert len(read) == len(messages) and all(map(stored_as, read, messages)), (index, read)


def test_many_conversations_at_once_on_both_servers(
    cluster: Cluster, tracker_db: Engine, app_db: Engine,
) -> None:
    def conversation(k: int) -> tuple[str, list[Exchange]]:
        sender = sender_id(f"many-{k}")
        messages = [FAQS[k % len(FAQS)], *handoff(f"many{k}"), FAQS[(k + 1) % len(FAQS)]]
        return sender, [send(cluster.rasa_url((k + i) % 2), sender, message)
                        for i, message in enumerate(messages)]

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        conversations = dict(pool.map(conversation, range(20)))
    elapsed = time.monotonic() - started
    exchanges = [x for sent in conversations.values() for x in sent]
    print(f"\n{len(exchanges)} messages in {elapsed:.1f} s, slowest "
          f"{max(x.seconds for x in exchanges):.1f} s")

    failed = [f"{x.sender}: {x}" for x in exchanges if not x.answered]
    assert not failed, "\n".join(failed)
    references = {sender: reference(sent[4]) for sender, sent in conversations.items()}
    assert all(references.values()), references
    assert len(set(references.values())) == 20
    assert_trackers(tracker_db, conversations)


# ----------------------------------------------------------------------------- 3: the lock
def configured_lock_store(cluster: Cluster) -> Any:
    """The lock store the cluster's Rasa servers use, from the endpoints file it wrote."""
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = cluster.directory / "endpoints.yml"
    assert endpoints.read_text() == endpoints_yaml(
        f"http://127.0.0.1:{cluster.topology.action_front_port}/webhook",
        cluster.tracker_store_url, cluster.lock_store_url)
    # Rasa expands every ${...} of the file, the action server's secret included.
    secret = {"ACTION_SERVER_SECRET": cluster.env["ACTION_SERVER_SECRET"]}
    with unittest.mock.patch.dict(os.environ, secret):
        return LockStore.create(read_endpoint_config(str(endpoints), "lock_store"))


def test_the_lock_store_gives_each_ticket_to_one_server(cluster: Cluster) -> None:
    """The lock store the cluster configures, as two servers use it: two servers asking for a
    conversation's lock at the same moment must get different tickets.

    Rasa 3.6's RedisLockStore reads the lock, adds a ticket and writes it back in separate
    Redis commands, so both can read "no lock" and both take ticket 0 (RasaHQ/rasa#9213)."""
    servers = [configured_lock_store(cluster), configured_lock_store(cluster)]
    shared = []
    for attempt in range(100):
        conversation = sender_id(f"lock-{attempt}")
        barrier = threading.Barrier(2)
        tickets: dict[int, int] = {}

        def take(index: int, conversation: str = conversation,
                 barrier: threading.Barrier = barrier, tickets: dict = tickets) -> None:
            barrier.wait()
            tickets[index] = servers[index].issue_ticket(conversation)

        threads = [threading.Thread(target=take, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        if tickets[0] == tickets[1]:
            shared.append(f"{conversation}: both took ticket {tickets[0]}")
        for index in (0, 1):
            servers[index].cleanup(conversation, tickets[index])
    assert not shared, (
        f"{type(servers[0]).__name__}: in {len(shared)} of 100 tries both servers took the same "
        f"ticket, so both would process the conversation at once; e.g. {shared[0]}")


def test_a_dead_servers_ticket_expires_and_the_next_message_is_served(cluster: Cluster) -> None:
    """A server that dies holding a conversation's lock leaves its ticket behind: the next
    message, on another server, is served once that ticket expires, even when it was queued
    less than a poll interval after it (Rasa's RedisLockStore then lets both expire together
    and never serves the waiting one)."""
    import asyncio

    dead, alive = configured_lock_store(cluster), configured_lock_store(cluster)
    lifetime = 2.0

    async def next_message(gap: float) -> float:
        conversation = sender_id(f"expiry-{gap}")
        dead.issue_ticket(conversation, lifetime)  # and never cleaned up: the server died
        await asyncio.sleep(gap)
        started = time.monotonic()

        async def served() -> float:
            async with alive.lock(conversation, lock_lifetime=lifetime):
                return time.monotonic() - started

        try:
            return await asyncio.wait_for(served(), lifetime + 8)
        except asyncio.TimeoutError:
            return float("inf")

    waits = {gap: asyncio.run(next_message(gap)) for gap in (0.1, 0.6)}
    assert all(wait <= lifetime + 1.5 for wait in waits.values()), (
        f"{type(alive).__name__}: a message queued behind a dead server's ticket "
        f"(lifetime {lifetime:.0f} s) waited {waits} s (gap after the dead ticket -> wait)")


def test_two_messages_of_one_conversation_at_once_on_two_servers(
    cluster: Cluster, tracker_db: Engine,
) -> None:
    """Many rounds of two messages of the same conversation sent at the same moment, one to
    each server: both must be stored, each followed by its own replies, nothing interleaved."""
    rounds, count = 6, 12

    def conversation(k: int) -> tuple[str, list[Exchange]]:
        sender = sender_id(f"race-{k}")
        questions = FAQS[k % len(FAQS):] + FAQS[:k % len(FAQS)]  # 12 distinct messages
        sent: list[Exchange] = []
        for r in range(rounds):
            pair = questions[2 * r:2 * r + 2]
            servers = [cluster.rasa_url((r + i) % 2) for i in (0, 1)]
            connections = [connect(url) for url in servers]
            for connection in connections:
                connection.connect()
            barrier = threading.Barrier(2)
            results: list[Exchange] = [None, None]  # type: ignore[list-item]

            def go(i: int, barrier: threading.Barrier = barrier, pair: list[str] = pair,
                   servers: list[str] = servers, connections: list = connections,
                   results: list = results) -> None:
                barrier.wait()
                results[i] = send(servers[i], sender, pair[i], connection=connections[i])

            threads = [threading.Thread(target=go, args=(i,)) for i in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent.extend(results)
        return sender, sent

    with ThreadPoolExecutor(count) as pool:
        conversations = dict(pool.map(conversation, range(count)))
    failed = [f"{x.sender}: {x}" for sent in conversations.values() for x in sent
              if not x.answered]
    assert not failed, "\n".join(failed)
    # The two messages of a round may be stored in either order: put them in the stored order.
    ordered = {}
    for sender, sent in conversations.items():
        stored = [turn.text for turn in turns_of(stored_events(tracker_db, sender))]
        position = {message: stored.index(message) if message in stored else len(stored)
                    for message in (x.message for x in sent)}
        ordered[sender] = [x for r in range(rounds) for x in sorted(
            sent[2 * r:2 * r + 2], key=lambda x: position[x.message])]
    assert_trackers(tracker_db, ordered)


# ----------------------------------------------------------------------------- 4: a crash
def test_a_server_killed_under_load(cluster: Cluster, tracker_db: Engine) -> None:
    """Conversations through nginx while Rasa server 0 is killed: what was answered is stored,
    every message sent after the kill is answered (by the other server), and the killed server
    comes back."""
    count, after_kill = 12, 3
    kill_time: list[float] = []
    conversations: dict[str, list[Exchange]] = {sender_id(f"kill-{k}"): [] for k in range(count)}

    def conversation(k: int) -> None:
        sender = sender_id(f"kill-{k}")
        sent = conversations[sender]
        i = 0
        while sum(x.started > kill_time[0] for x in sent if kill_time) < after_kill:
            sent.append(send(cluster.url, sender, FAQS[(k + i) % len(FAQS)]))
            i += 1
            if i > 200:
                break

    threads = [threading.Thread(target=conversation, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    wait_until(lambda: all(any(x.answered for x in sent) for sent in conversations.values()),
               60, "every conversation answered once")
    cluster.kill_rasa(0)  # returns once the process is gone
    kill_time.append(time.monotonic())
    for thread in threads:
        thread.join(CLIENT_TIMEOUT * after_kill + 30)
    assert not any(thread.is_alive() for thread in threads), "conversations still running"

    exchanges = [x for sent in conversations.values() for x in sent]
    failed = [x for x in exchanges if not x.answered]
    after = [x for x in exchanges if x.started > kill_time[0]]
    print(f"\n{len(exchanges)} messages; not answered: {len(failed)} "
          f"({sorted({str(x.status) for x in failed})}); sent after the kill: {len(after)}, "
          f"slowest {max(x.seconds for x in after):.1f} s")
    hung = [f"{x.sender}: {x}" for x in exchanges
            if x.status is None or x.seconds > TICKET_LOCK_LIFETIME + 10]
    assert not hung, (
        f"requests hung (the lock lifetime is {TICKET_LOCK_LIFETIME} s):\n" + "\n".join(hung))
    failed_after = [f"{x.sender}: {x}" for x in after if not x.answered]
    assert not failed_after, (
        "messages sent after server 0 was killed were not answered:\n" + "\n".join(failed_after))
    assert_trackers(tracker_db, conversations)

    started = time.monotonic()
    cluster.start_rasa(0)
    print(f"server 0 restarted in {time.monotonic() - started:.0f} s")
    sender = sender_id("kill-0")
    back = send(cluster.rasa_url(0), sender, "does massone cost anything?")
    assert back.answered and "no charge" in back.text, back
    assert_trackers(tracker_db, {sender: [*conversations[sender], back]})


# ----------------------------------------------------------------------------- 5: PostgreSQL
def restart_postgres() -> None:
    """Restart the cluster's own PostgreSQL (`pg_ctl restart`: every connection is cut)."""
    assert SERVICES.postgres is not None
    SERVICES.postgres.restart()


@dataclass
class Flow:
    """One user filing a ticket: every exchange, and the references the bot gave."""

    sender: str
    contact: str
    sent: list[Exchange] = field(default_factory=list)

    @property
    def references(self) -> set[str]:
        return {ref for x in self.sent if (ref := reference(x))}


def test_postgresql_restarted_under_load(
    cluster: Cluster, tracker_db: Engine, app_db: Engine,
) -> None:
    """Ticket submissions through nginx while PostgreSQL restarts: while it is down a request
    fails clearly (no 200 for what was not stored, no hang), afterwards everything works again
    without restarting anything of ours; no ticket is lost or duplicated, a retried submission
    files nothing twice, and each ticket has one confirmation mail."""
    admin_url = postgres_admin_url()
    stop = threading.Event()
    down: list[float] = []  # monotonic times at which PostgreSQL refused a connection
    flows: list[Flow] = []
    lock = threading.Lock()

    def watch() -> None:
        while not stop.is_set():
            if not postgres_is_up(admin_url):
                down.append(time.monotonic())
            time.sleep(0.05)

    def user(k: int) -> None:
        n = 0
        while not stop.is_set():
            name = f"pg-{k}-{n}"
            flow = Flow(sender_id(name), address(name.replace("-", "")))
            with lock:
                flows.append(flow)
            n += 1
            for message in [FAQS[(k + n) % len(FAQS)], HANDOFF, SUMMARY, flow.contact]:
                flow.sent.append(send(cluster.url, flow.sender, message))
                if not flow.sent[-1].answered:
                    break
            else:
                # The submission, retried as a client would (a few times) until confirmed.
                for attempt in range(4):
                    flow.sent.append(send(cluster.url, flow.sender, YES))
                    if flow.references or stop.is_set() and attempt:
                        break
                    time.sleep(1)

    watcher = threading.Thread(target=watch)
    users = [threading.Thread(target=user, args=(k,)) for k in range(6)]
    for thread in [watcher, *users]:
        thread.start()
    try:
        time.sleep(3)  # load before the restart
        restart_started = time.monotonic()
        restart_postgres()
        restarted = time.monotonic()
        time.sleep(6)  # load after the restart
    finally:
        stop.set()
        for thread in [watcher, *users]:
            thread.join(CLIENT_TIMEOUT + 25)
    exchanges = [x for flow in flows for x in flow.sent]
    outage = (min(down), max(down)) if down else (restart_started, restarted)
    print(f"\nPostgreSQL restart took {restarted - restart_started:.1f} s, refused connections "
          f"for {outage[1] - outage[0]:.1f} s; {len(exchanges)} messages, "
          f"{sum(not x.answered for x in exchanges)} not answered 200, slowest "
          f"{max(x.seconds for x in exchanges):.1f} s")

    failures = []
    hung = [f"{x.sender}: {x}" for x in exchanges if x.status is None]
    if hung:
        failures.append("requests got no HTTP answer in time:\n" + "\n".join(hung))
    late = [f"{x.sender}: {x}" for x in exchanges
            if x.started > outage[1] + 3 and not x.answered]
    if late:
        failures.append("requests failed after PostgreSQL was back:\n" + "\n".join(late))
    # A 200 means the exchange is stored: nothing may be answered 200 from a blank conversation
    # while the tracker store is unreachable.
    stored = tracker_failures(tracker_db, {flow.sender: flow.sent for flow in flows})
    if stored:
        failures.append(
            f"{stored}\n(When its tracker store fails, Rasa logs it - {cluster.log_dir}/rasa-*.log "
            "- and carries on from a blank in-memory tracker: Rasa's FailSafeTrackerStore.)")

    by_contact: dict[str, list[Any]] = {}
    for ticket in tickets_of(app_db).list_tickets(limit=500):
        by_contact.setdefault(ticket.contact_email, []).append(ticket)
    problems = []
    for flow in flows:
        filed = by_contact.get(flow.contact, [])
        confirmed = flow.references
        if len(filed) > 1:
            problems.append(f"{flow.sender}: {len(filed)} tickets for one request")
        if confirmed and [reference_of(ticket) for ticket in filed] != sorted(confirmed):
            problems.append(f"{flow.sender}: confirmed as {sorted(confirmed)} but filed as "
                            f"{[reference_of(ticket) for ticket in filed]}")
        if any(x.message == YES for x in flow.sent) and not confirmed:
            problems.append(f"{flow.sender}: the request was never confirmed (lost); replies: "
                            f"{[x.text[:40] for x in flow.sent]!r}")
        mails = [row for row in outbox_rows(app_db, flow.contact) if row.kind == "ticket_created"]
        if len(mails) != len(filed):
            problems.append(f"{flow.sender}: {len(filed)} tickets, {len(mails)} mails")
    if problems:
        failures.append("tickets:\n" + "\n".join(problems))
    assert not failures, "\n\n".join(failures)
    assert sum(bool(flow.references) for flow in flows) >= 6, "too few tickets filed to judge"


# ----------------------------------------------------------------------------- 6: SMTP
def eml_files_to(mail_dir: Path, to_address: str) -> list[Path]:
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == to_address:
            found.append(path)
    return found


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_mail_waits_in_the_outbox_while_the_smtp_relay_is_down(
    cluster: Cluster, app_db: Engine,
) -> None:
    catchers = [process for process in cluster.processes
                if "bot.mail.catcher" in process.args and process.poll() is None]
    assert len(catchers) == 1, f"mail catchers running: {[p.args for p in catchers]}"
    catchers[0].send_signal(signal.SIGTERM)
    catchers[0].wait(15)
    wait_until(lambda: not port_open(cluster.smtp_port), 10, "the mail catcher's port closed")

    contact = address("smtpdown")
    sender = sender_id("smtpdown")
    sent = [send(cluster.url, sender, message) for message in handoff("smtpdown")]
    assert all(x.answered for x in sent), "\n".join(map(str, sent))
    done = reference(sent[-1])
    assert done, f"no ticket reference in {sent[-1]}"

    def failed_once() -> Any:
        rows = outbox_rows(app_db, contact)
        return rows if rows and rows[0].attempts >= 1 else None

    rows = wait_until(failed_once, 20, "the outbox worker trying the confirmation mail")
    assert len(rows) == 1 and rows[0].sent_at is None, rows
    assert rows[0].last_error, rows
    assert not eml_files_to(cluster.mail_dir, contact)

    catcher = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "bot.mail.catcher", "--dir", str(cluster.mail_dir),
         "--port", str(cluster.smtp_port)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cluster.processes.append(catcher)  # cluster.stop() stops it
    wait_until(lambda: port_open(cluster.smtp_port), 20, "the new mail catcher listening")

    # Backoff after one failure is 5 s, after two 10 s: the mail goes out within ~12 s.
    rows = wait_until(lambda: (rows := outbox_rows(app_db, contact)) and rows[0].sent_at
                      and rows, 40, "the confirmation mail sent once the relay is back")
    files = wait_until(lambda: eml_files_to(cluster.mail_dir, contact), 10, "the .eml file")
    time.sleep(2)  # the worker polls every second: room for a wrong second delivery
    files = eml_files_to(cluster.mail_dir, contact)
    assert len(files) == 1, f"{len(files)} mails to {contact}: {files}"
    assert done in email.message_from_bytes(
        files[0].read_bytes(), policy=email.policy.default)["Subject"]
    assert len(outbox_rows(app_db, contact)) == 1
