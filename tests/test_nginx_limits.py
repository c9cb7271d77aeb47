"""nginx's per-client limits (issue 11, item 3), for real: the generated nginx.conf in front of
two small HTTP servers standing in for a Rasa server and the web app."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from conftest import LiveServer

from bot.ops.cluster import LIMIT_BURST, Topology, nginx_conf
from bot.ops.serve import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def answering(text: str) -> web.Application:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text=text)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


@pytest.fixture
def front(tmp_path: Path) -> Iterator[str]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed")
    rasa, webapp = LiveServer(answering("rasa")).start(), LiveServer(answering("web")).start()
    topology = Topology(front_port=free_port(), action_front_port=free_port(),
                        rasa_ports=(rasa.port,), action_ports=(rasa.port,),
                        web_port=webapp.port, chat_rate=1, pages_rate=1)
    for folder in ("logs", "tmp"):
        (tmp_path / folder).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(topology, tmp_path))
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)],
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{topology.front_port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        rasa.stop()
        webapp.stop()


def statuses(url: str, count: int) -> list[int]:
    found = []
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                found.append(reply.status)
        except urllib.error.HTTPError as error:
            found.append(error.code)
    return found


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/socket.io/?EIO=4",
                                  "/console/sign-in", "/reset/some-token"])
def test_one_client_hammering_gets_429_past_the_burst(front: str, path: str) -> None:
    got = statuses(front + path, LIMIT_BURST + 15)
    assert got.count(200) <= LIMIT_BURST + 3  # the burst, and what the rate refilled meanwhile
    assert got.count(429) >= 10
    assert set(got) == {200, 429}


def test_the_help_pages_are_not_limited(front: str) -> None:
    assert statuses(front + "/help", LIMIT_BURST + 15) == [200] * (LIMIT_BURST + 15)
