"""The load benchmark: its pure parts on synthetic samples, and one short run for real."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import numpy
import pytest
from aiohttp import web

from bot.ops.bench import (
    SCRIPTS,
    TURN_KINDS,
    LoadConfig,
    LoadRun,
    MemorySampler,
    Sample,
    ScriptPicker,
    Turn,
    chart_figure,
    flatten,
    format_report,
    labelled,
    percentiles,
    process_label,
    run_load,
    save_results,
    send_turn,
    summarize,
)
from bot.ops.serve import Stack
from bot.ops.stats import percentile


def test_percentiles_interpolate_and_tolerate_no_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})
    assert percentiles([42.0]) == {"p50": 42.0, "p95": 42.0, "p99": 42.0}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_flatten_keeps_texts_buttons_and_faq_ids() -> None:
    replies = [
        {"recipient_id": "a", "text": "Which system is this about?",
         "buttons": [{"title": "MassONE", "payload": "/choose_system"}]},
        {"recipient_id": "a", "custom": {"faq_id": "massone_cost", "kind": "faq"}},
    ]
    assert flatten(replies) == "Which system is this about?\n[button] MassONE\n[faq] massone_cost"
    assert flatten([]) == ""


def test_the_first_conversations_cover_every_script_and_turn_type() -> None:
    picker = ScriptPicker(seed=3, run_id="abc")
    first = [picker.next() for _ in SCRIPTS]
    assert [c.script for c in first] == list(SCRIPTS)
    assert first[0].turns[0].kind == "greet"
    assert {turn.kind for c in first for turn in c.turns} == set(TURN_KINDS)
    later = [picker.next() for _ in range(200)]
    senders = [c.sender for c in first + later]
    assert len(set(senders)) == len(senders)  # a new conversation each time
    counts = {name: sum(c.script == name for c in later) for name in SCRIPTS}
    assert counts["faq"] > counts["system"] > counts["ticket"] > 0  # weighted
    again = ScriptPicker(seed=3, run_id="abc")
    assert [again.next() for _ in range(len(first) + 200)] == first + later  # seeded


def test_identities_and_addresses_are_unique_per_conversation() -> None:
    picker = ScriptPicker(seed=5, run_id="r1")
    messages = [t.message for _ in range(300) for t in picker.next().turns]
    addresses = [m for m in messages if m.endswith("@example.org")]
    user_names = [m for m in messages if m.startswith("bench")]
    assert addresses and len(set(addresses)) == len(addresses)
    assert user_names and len(set(user_names)) == len(user_names)


def sample(kind: str, start: float, ms: float, error: str | None = None) -> Sample:
    return Sample(kind, start, ms / 1000, error, "'x' -> 'y'" if error else "")


def synthetic_run() -> LoadRun:
    config = LoadConfig(users=4, duration=10, warmup=2, seed=1)
    samples = [
        sample("faq", 1.0, 5000),  # warm-up: left out
        *(sample("faq", 2.0 + i, 100 + i) for i in range(8)),
        sample("ticket_submit", 5.0, 300),
        sample("ticket_form", 6.0, 30_000, "timeout"),
        sample("recovery", 7.0, 80, "unexpected reply"),
        sample("faq", 12.5, 100),  # after the end: left out
    ]
    memory = {"rasa:5005": {"pid": 1, "peak_rss_mb": 1000.0, "hwm_mb": 1010.0},
              "actions:5055": {"pid": 2, "peak_rss_mb": 70.0, "hwm_mb": None}}
    return LoadRun(config, samples, memory)


def test_summary_of_synthetic_samples() -> None:
    summary = summarize("single", "http://127.0.0.1:5005", synthetic_run())
    assert (summary["turns"], summary["successes"], summary["errors"]) == (11, 9, 2)
    assert summary["error_share"] == pytest.approx(2 / 11)
    assert summary["messages_per_second"] == pytest.approx(0.9)
    assert summary["errors_by_reason"] == {"timeout": 1, "unexpected reply": 1}
    assert summary["error_examples"] == ["'x' -> 'y'", "'x' -> 'y'"]
    latency = summary["latency_ms"]
    assert list(latency) == ["faq", "recovery", "ticket_form", "ticket_submit", "overall"]
    assert latency["faq"] == pytest.approx(
        {"turns": 8, "errors": 0, **percentiles([100 + i for i in range(8)])})
    assert latency["ticket_form"] == {"turns": 1, "errors": 1, "p50": None, "p95": None,
                                      "p99": None}  # latency of successful turns only
    assert latency["overall"]["turns"] == 11 and latency["overall"]["p99"] < 300
    assert summary["memory_mb"]["rasa:5005"]["hwm_mb"] == 1010.0


def test_report_table() -> None:
    report = format_report(summarize("cluster", "http://127.0.0.1:8080", synthetic_run()))
    assert "== cluster  http://127.0.0.1:8080  4 users, 10 s measured after 2 s warm-up" in report
    assert "throughput 0.90 messages/s   turns 11   errors 2 (18.2%)" in report
    assert "errors: timeout 1, unexpected reply 1" in report
    faq_row = next(line for line in report.splitlines() if line.strip().startswith("faq"))
    assert faq_row.split() == ["faq", "8", "0", "104", "107", "107"]
    assert "ticket_form" in report and " - " in report  # no latency: a dash
    assert "rasa:5005" in report and "1010" in report


def test_json_and_chart_are_written(tmp_path: Path) -> None:
    single = summarize("single", "http://127.0.0.1:5005", synthetic_run())
    cluster = summarize("cluster", "http://127.0.0.1:8080", synthetic_run())
    report = {"created": "2026-01-01T00:00:00", "config": {"users": 4},
              "targets": [single, cluster]}
    stamped, latest, chart = save_results(report, tmp_path)
    assert stamped.name.startswith("bench-") and stamped.suffix == ".json"
    assert (latest.name, chart.name) == ("latest.json", "latest.png")
    saved = json.loads(latest.read_text())
    assert saved == json.loads(stamped.read_text())
    assert [target["name"] for target in saved["targets"]] == ["single", "cluster"]
    for key in ("messages_per_second", "errors", "error_share", "latency_ms", "memory_mb"):
        assert key in saved["targets"][0]
    assert set(saved["targets"][0]["latency_ms"]["overall"]) == {"turns", "errors", "p50", "p95",
                                                                  "p99"}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


def test_the_memory_panel_is_drawn_only_with_memory_measured() -> None:
    measured = summarize("single", "http://127.0.0.1:5005", synthetic_run())
    unmeasured = summarize("remote", "https://help.example.org", synthetic_run())
    unmeasured["memory_mb"] = {}  # `--url` without `--pids`
    titles = [axes.get_title() for axes in chart_figure([measured, unmeasured]).axes]
    assert titles[-1] == "Memory"
    titles = [axes.get_title() for axes in chart_figure([unmeasured]).axes]
    assert "Memory" not in titles and len(titles) == 2


def test_percentiles_match_the_one_definition() -> None:
    values = [float(v) for v in (12, 3, 7, 40, 18, 25, 9, 31, 5, 22)]
    assert percentile(values, 0.95) == pytest.approx(numpy.percentile(values, 95))
    assert percentile(values, 0.5) == pytest.approx(numpy.median(values))
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_process_labels() -> None:
    venv = "/work/.venv/bin"
    assert process_label([f"{venv}/rasa", "run", "--port", "5105"]) == "rasa:5105"
    assert process_label([f"{venv}/python", f"{venv}/rasa", "run", "--enable-api", "--port",
                          "5005", "--model", "m.tar.gz"]) == "rasa:5005"
    assert process_label([f"{venv}/python", "-m", "rasa_sdk", "--actions", "actions",
                          "--port", "5055"]) == "actions:5055"
    assert process_label([f"{venv}/python", "-m", "bot.ops.rasa_server", "run", "--enable-api",
                          "--port", "5005"]) == "rasa:5005"
    assert process_label([f"{venv}/python", "-m", "bot.ops.action_server",
                          "--port", "5055"]) == "actions:5055"
    assert process_label([f"{venv}/python", "-m", "bot.mail.worker"]) == "mailer"
    assert process_label(["/usr/sbin/nginx", "-p", "/tmp/x", "-c", "/tmp/x/nginx.conf"]) == "nginx"
    assert process_label(["nginx: master process /usr/sbin/nginx -p /tmp/x"]) == "nginx"
    worker = ["python", "-m", "bot.mail.worker"]
    assert labelled([(7, worker), (8, worker)]) == {"mailer": 7, "mailer (8)": 8}


def test_memory_sampler_keeps_the_peak() -> None:
    sampler = MemorySampler({"me": os.getpid(), "gone": 2**22 + 1})
    sampler.sample()
    report = sampler.report()
    assert report["me"]["peak_rss_mb"] > 10 and report["me"]["hwm_mb"] >= 10
    assert report["gone"] == {"pid": 2**22 + 1, "peak_rss_mb": None, "hwm_mb": None}


async def _fake_bot_turns(turns: list[Turn]) -> list[Sample]:
    """Send `turns` to a fake REST channel answering by message text."""
    answers: dict[str, Any] = {
        "ok": [{"text": "Hi! there"}], "empty": [], "wrong": [{"text": "Sorry?"}],
        "broken": web.Response(status=500), "junk": web.Response(text="not json"),
    }

    async def webhook(request: web.Request) -> web.StreamResponse:
        answer = answers[(await request.json())["message"]]
        return answer if isinstance(answer, web.Response) else web.json_response(answer)

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            return [await send_turn(session, f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                    "s", turn, lambda: 0.0) for turn in turns]
    finally:
        await runner.cleanup()


def test_errors_are_counted_not_raised() -> None:
    messages = ("ok", "empty", "wrong", "broken", "junk")
    turns = [Turn("greet", message, "Hi!") for message in messages]
    samples = asyncio.run(_fake_bot_turns(turns))
    assert [s.error for s in samples] == [None, "empty reply", "unexpected reply", "HTTP 500",
                                          "invalid JSON"]
    assert samples[2].detail == "'wrong' -> 'Sorry?'"


def test_a_short_real_run_uses_every_turn_type_without_errors(stack: Stack) -> None:
    # The first four conversations are one of each script (ScriptPicker), played to their end
    # however slow the machine is.
    config = LoadConfig(users=3, duration=120, warmup=0, seed=7, think=(0.1, 0.3), conversations=5)
    pids = labelled([(process.pid, process.args) for process in stack.processes])
    run = asyncio.run(run_load(stack.url, config, pids))
    failed = [(s.kind, s.error, s.detail) for s in run.samples if not s.ok]
    assert not failed
    assert {s.kind for s in run.samples} == set(TURN_KINDS)
    summary = summarize("stack", stack.url, run)
    assert summary["turns"] > 10 and summary["errors"] == 0
    assert summary["messages_per_second"] > 0
    rasa = summary["memory_mb"][f"rasa:{stack.rasa_port}"]
    assert rasa["peak_rss_mb"] > 200 and rasa["hwm_mb"] >= rasa["peak_rss_mb"]
