"""Where the time of one turn goes, against a running stack: `python -m bot.ops.profile_turn`.

For an FAQ question, timed separately, many times each: the whole REST turn; NLU alone (the
HTTP API's `/model/parse`); the custom action alone (a direct call to the action server's
`/webhook` with the tracker Rasa would send); and one database write of the kind a ticket makes
(`TicketService.submit` on DATABASE_URL). What remains of the turn is Rasa's own work: the
policies, the tracker store and the HTTP handling.

The API's token and the action server's secret are those `make run` keeps in var/ (or
RASA_API_TOKEN and ACTION_SERVER_SECRET when set).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable

from bot.db import make_engine, session_factory
from bot.ops.stats import percentile
from bot.settings import ACTION_SECRET_HEADER, VAR, Settings, kept_secret
from bot.tickets.service import TicketRequest, TicketService

QUESTION = "does massone cost anything?"


def post(url: str, body: dict, headers: dict[str, str] | None = None) -> dict | list:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def timed(function: Callable[[], object], rounds: int) -> list[float]:
    function()  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(1000 * (time.perf_counter() - start))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", default="http://127.0.0.1:5005")
    parser.add_argument("--actions", default="http://127.0.0.1:5055")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)
    token = os.environ.get("RASA_API_TOKEN") or kept_secret(VAR / "rasa_api_token")
    secret = {ACTION_SECRET_HEADER: os.environ.get("ACTION_SERVER_SECRET")
              or kept_secret(VAR / "action_server_secret")}
    parse_url = f"{args.rasa}/model/parse?token={token}"

    parse = post(parse_url, {"text": QUESTION})
    action_call = {
        "next_action": "action_respond",
        "sender_id": "profile",
        "tracker": {"sender_id": "profile", "slots": {}, "latest_message": parse,
                    "events": [], "paused": False, "followup_action": None,
                    "active_loop": {}, "latest_action_name": "action_listen"},
        "domain": {},
        "version": "3.6.2",
    }
    service = TicketService(session_factory(make_engine(Settings.from_env().database_url)))

    def ticket() -> None:
        address = f"profile-{uuid.uuid4().hex[:12]}@example.org"
        service.submit(uuid.uuid4().hex, TicketRequest(
            kind="human_handoff", system=None, contact_email=address,
            facts={"summary": "profiling one ticket write", "contact_email": address},
            transcript=[],
        ))

    parts = {
        "whole REST turn": lambda: post(f"{args.rasa}/webhooks/rest/webhook",
                                        {"sender": uuid.uuid4().hex, "message": QUESTION}),
        "NLU (/model/parse)": lambda: post(parse_url, {"text": QUESTION}),
        "custom action (action server)": lambda: post(f"{args.actions}/webhook", action_call,
                                                      secret),
        "ticket write (database)": ticket,
    }
    medians = {}
    for label, function in parts.items():
        samples = sorted(timed(function, args.rounds))
        medians[label] = statistics.median(samples)
        print(f"{label:32} median {medians[label]:6.1f} ms  "
              f"p95 {percentile(samples, 0.95):6.1f} ms")
    rest = medians["whole REST turn"] - medians["NLU (/model/parse)"] - medians[
        "custom action (action server)"]
    print(f"{'Rasa: policies, tracker, HTTP':32} about {rest:6.1f} ms (turn - NLU - action)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
