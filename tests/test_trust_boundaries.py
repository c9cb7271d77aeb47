"""The servers' boundaries over real HTTP (issue 11, items 1, 5, 6, 8, 11): the running stack
(Rasa server, action server) and nginx with the configuration `make cluster` writes.

- A chat message over 2,000 characters gets a short plain reply and never reaches the NLU, on
  the REST and the socket.io channel; an oversized socket.io frame closes the connection.
- A password typed into the chat is hidden before Rasa keeps the message, and the user is told
  to change it.
- The action server listens on loopback only, refuses callers without the shared secret and any
  request with a Content-Encoding (a small deflate body inflated to 512 MB there).
- The Rasa HTTP API answers only with its token.
- nginx caps bodies per location and refuses request Content-Encoding.
- `make cluster` takes PUBLIC_BASE_URL and SMTP_* from the environment; the mail catcher runs
  only when asked for.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import socketio
from conftest import Chat, texts

from bot.ops import cluster as cluster_module
from bot.ops.cluster import Cluster, Topology, endpoints_yaml, nginx_conf
from bot.ops.serve import Stack
from bot.privacy.passwords import PASSWORD_LABEL
from bot.rasa_plugins.incoming import TOO_LONG
from bot.settings import ACTION_SECRET_HEADER

LONG_REPLY = TOO_LONG.format(limit=2000)
PASSWORD_MESSAGE = "my username is jdoe7 and my password is Summer2024!"


def fetch(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def tracker_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    status, body = fetch("GET", stack.api_url(f"/conversations/{sender}/tracker"))
    assert status == 200
    return json.loads(body)["events"]


# ------------------------------------------------------------------ item 1: message size (REST)
def test_a_megabyte_message_gets_a_short_reply_and_is_not_read(stack: Stack, chat: Chat) -> None:
    replies = chat.say("I forgot my password " * 50_000)  # about 1 MB
    assert texts(replies) == LONG_REPLY
    assert not [e for e in tracker_events(stack, chat.sender) if e["event"] == "user"]
    # The conversation goes on as usual.
    assert "no charge" in texts(chat.say("does massone cost anything?"))


def test_a_message_at_the_limit_is_read(chat: Chat) -> None:
    question = "does massone cost anything? " + "please " * 200
    assert len(question) <= 2000
    assert texts(chat.say(question)) != LONG_REPLY


# ------------------------------------------------------------------ item 8: passwords in the chat
def test_a_typed_password_is_hidden_before_rasa_keeps_it(stack: Stack, chat: Chat) -> None:
    said = texts(chat.say(PASSWORD_MESSAGE))
    assert "change it as soon as you can" in said
    events = tracker_events(stack, chat.sender)
    stored = json.dumps(events)
    assert "Summer2024" not in stored
    [user] = [event for event in events if event["event"] == "user"]
    assert user["text"] == f"my username is jdoe7 and my password is {PASSWORD_LABEL}"


def test_talking_about_a_password_is_not_hidden(chat: Chat) -> None:
    said = texts(chat.say("my password is not working"))
    assert "change it as soon as you can" not in said


# ------------------------------------------------------------------ item 1 and 8: socket.io
async def _socket_turns(url: str, messages: list[str], wait: float = 60) -> dict[str, Any]:
    """Send `messages` on the socket.io channel as the chat widget does; the bot's messages
    (after each, until a pause) and whether the server closed the connection."""
    client = socketio.AsyncClient(reconnection=False)
    said: list[dict[str, Any]] = []
    closed = asyncio.Event()
    client.on("bot_uttered", lambda data: said.append(data))
    client.on("disconnect", lambda *args: closed.set())
    session = uuid.uuid4().hex
    await client.connect(url, transports=["websocket"])
    await client.emit("session_request", {"session_id": session})
    for message in messages:
        before = len(said)
        await client.emit("user_uttered", {"message": message, "session_id": session})
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not closed.is_set():
            await asyncio.sleep(0.2)
            if len(said) > before:
                await asyncio.sleep(1.0)  # the rest of the turn
                break
    result = {"said": said, "closed": closed.is_set() or not client.connected}
    if client.connected:
        await client.disconnect()
    return result


def test_socketio_answers_a_long_message_with_the_short_reply(stack: Stack) -> None:
    result = asyncio.run(_socket_turns(stack.url, ["x " * 2000, PASSWORD_MESSAGE]))
    said = [message.get("text", "") for message in result["said"]]
    assert said[0] == LONG_REPLY
    assert any("change it as soon as you can" in text for text in said[1:])


def test_socketio_closes_on_an_oversized_frame(stack: Stack) -> None:
    result = asyncio.run(_socket_turns(stack.url, ["x" * 100_000], wait=10))
    assert result["closed"]
    assert not result["said"]


# ------------------------------------------------------------------ item 5: the action server
def test_the_action_server_refuses_callers_without_the_secret(stack: Stack) -> None:
    webhook = f"http://127.0.0.1:{stack.action_port}/webhook"
    call = json.dumps({"next_action": "action_respond", "tracker": {"sender_id": "x"},
                       "version": "3.6.2"}).encode()
    json_type = {"Content-Type": "application/json"}
    assert fetch("POST", webhook, call, json_type)[0] == 401
    wrong = {**json_type, ACTION_SECRET_HEADER: "guess"}
    assert fetch("POST", webhook, call, wrong)[0] == 401
    assert fetch("GET", f"http://127.0.0.1:{stack.action_port}/actions")[0] == 401
    right = {**json_type, ACTION_SECRET_HEADER: stack.env["ACTION_SERVER_SECRET"]}
    status, body = fetch("POST", webhook, call, right)
    assert status == 200 and b"events" in body
    assert fetch("GET", f"http://127.0.0.1:{stack.action_port}/health")[0] == 200


def test_the_action_server_refuses_compressed_bodies(stack: Stack) -> None:
    bomb = zlib.compress(b"{" + b" " * 50_000_000 + b"}", 9)  # 50 MB inflated, 50 KB sent
    headers = {"Content-Type": "application/json", "Content-Encoding": "deflate",
               ACTION_SECRET_HEADER: stack.env["ACTION_SERVER_SECRET"]}
    status, _ = fetch("POST", f"http://127.0.0.1:{stack.action_port}/webhook", bomb, headers)
    assert status == 415


def test_the_action_server_listens_on_loopback_only(stack: Stack) -> None:
    """127.0.0.2 is this machine too: a server on every interface (0.0.0.0) answers there."""
    with socket.create_connection(("127.0.0.1", stack.action_port), timeout=5):
        pass
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", stack.action_port),
                                                          timeout=5):
        pass


# ------------------------------------------------------------------ item 6: the Rasa HTTP API
def test_the_rasa_api_needs_its_token(stack: Stack) -> None:
    for method, path in [("GET", "/status"), ("GET", "/conversations/someone/tracker"),
                         ("POST", "/conversations/someone/tracker/events"),
                         ("DELETE", "/model")]:
        status, _ = fetch(method, f"{stack.url}{path}", b"{}" if method == "POST" else None)
        assert status == 401, (method, path, status)
    assert fetch("GET", stack.api_url("/status"))[0] == 200
    assert fetch("GET", f"{stack.url}/status?token=wrong")[0] == 401


# ------------------------------------------------------------------ item 1: nginx
class _Upstream(BaseHTTPRequestHandler):
    """Any request: 200 with the number of body bytes received."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = len(self.rfile.read(length)) if length else 0
        body = json.dumps({"received": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Topology]:
    """nginx with the cluster's configuration, in front of small HTTP servers standing in for
    the Rasa servers, the action servers and the web app."""
    topology = Topology.free(servers=1)
    servers = [ThreadingHTTPServer(("127.0.0.1", port), _Upstream) for port in
               (*topology.rasa_ports, *topology.action_ports, topology.web_port)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for folder in ("logs", "tmp"):
        (tmp_path / folder).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(topology, tmp_path))
    binary = Cluster(topology, directory=tmp_path).nginx
    if not Path(binary).exists():
        pytest.skip("nginx is not installed (make test installs it)")
    process = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(conf)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", topology.front_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "nginx down"
                time.sleep(0.2)
        yield topology
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in servers:
            server.shutdown()
            server.server_close()


def post(port: int, path: str, size: int, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=b"x" * size,
                           headers={"Content-Type": "application/json", **headers})
        return connection.getresponse().status
    finally:
        connection.close()


def test_nginx_caps_bodies_per_location(nginx: Topology) -> None:
    front = nginx.front_port
    assert post(front, "/webhooks/rest/webhook", 8_000) == 200
    assert post(front, "/webhooks/rest/webhook", 1_000_000) == 413
    assert post(front, "/webhooks/rest/webhook", 20_000) == 413
    assert post(front, "/socket.io/?EIO=4&transport=polling", 20_000) == 413
    assert post(front, "/console/knowledge/x", 100_000) == 200
    assert post(front, "/console/knowledge/x", 1_000_000) == 413
    assert post(nginx.action_front_port, "/webhook", 2_000_000) == 200


def test_nginx_refuses_request_content_encoding(nginx: Topology) -> None:
    for port, path in [(nginx.front_port, "/webhooks/rest/webhook"),
                       (nginx.front_port, "/console/sign-in"),
                       (nginx.action_front_port, "/webhook")]:
        assert post(port, path, 100, **{"Content-Encoding": "deflate"}) == 415, path
        assert post(port, path, 100) == 200, path


# ------------------------------------------------------------------ item 11: make cluster's mail
def test_the_cluster_takes_mail_and_links_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://help.example.gov")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.gov")
    monkeypatch.setenv("SMTP_PORT", "587")
    cluster = Cluster(Topology.free(), directory=tmp_path)
    assert cluster.env["PUBLIC_BASE_URL"] == "https://help.example.gov"
    assert cluster.mail_dir is None  # no catcher: the worker delivers to SMTP_HOST:SMTP_PORT
    assert "SMTP_HOST" not in cluster.env and "SMTP_PORT" not in cluster.env
    asked = Cluster(Topology.free(), directory=tmp_path, mail_dir=tmp_path / "mail")
    assert asked.env["SMTP_HOST"] == "127.0.0.1"


def test_make_cluster_starts_the_catcher_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Cluster] = []
    monkeypatch.setattr(cluster_module, "run_until_interrupted",
                        lambda cluster, *args: started.append(cluster) or 0)
    cluster_module.main([])
    cluster_module.main(["--mail-catcher"])
    assert started[0].mail_dir is None
    assert started[1].mail_dir == cluster_module.MAIL_DIR


def test_the_cluster_sends_the_action_secret() -> None:
    yaml = endpoints_yaml("http://127.0.0.1:8081/webhook", "postgresql://h/db", "redis://h/1")
    assert f"{ACTION_SECRET_HEADER}: ${{ACTION_SERVER_SECRET}}" in yaml


def test_an_api_token_starting_with_a_dash_is_passed_whole() -> None:
    """A random token may start with "-", which argparse would read as an option."""
    import argparse

    from bot.ops.rasa_server import rasa_arguments

    arguments = rasa_arguments(["run", "--enable-api"], "-Xy_token")
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--enable-api", action="store_true")
    parser.add_argument("-t", "--auth-token")
    assert parser.parse_args(arguments).auth_token == "-Xy_token"
