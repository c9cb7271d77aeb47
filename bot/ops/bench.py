"""Load benchmark: `python -m bot.ops.bench` (what `make bench` calls).

Simulated users hold realistic conversations over the REST channel (FAQ questions, "which
system?" questions, recovery flows, tickets), each turn timed and checked, for a fixed number of
users and a bounded time. Without `--url` it starts the single server and then the cluster, both on
PostgreSQL and on free ports, loads each the same way and compares them; with `--url` it loads a
running bot (`make run`: http://127.0.0.1:5005, `make cluster`: http://127.0.0.1:8080). Prints a
table per target and writes build/bench/bench-<timestamp>.json, latest.json and latest.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy

from bot.ops.stats import percentile
from bot.settings import ROOT

OUT_DIR = ROOT / "build" / "bench"
# The bench's own databases and Redis db: recreated for each target, nobody else's touched.
DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/helpdesk_bench"
TRACKER_STORE_URL = "postgresql://postgres@127.0.0.1:5432/helpdesk_bench_tracker"
LOCK_STORE_URL = "redis://127.0.0.1:6379/5"

TURN_KINDS = ("greet", "faq", "system_question", "system_choice", "recovery", "ticket_form",
              "ticket_submit")

# ------------------------------------------------------------------------------ scripts


@dataclass(frozen=True)
class Turn:
    """One message and what its reply must contain (see `flatten`)."""

    kind: str
    message: str
    expect: str


@dataclass(frozen=True)
class Conversation:
    script: str
    sender: str
    turns: list[Turn]


GREETINGS = ("hello", "hi", "good morning")
FAQS = (  # (question, the FAQ that must answer it)
    ("does massone cost anything?", "massone_cost"),
    ("how do I change my ESE portal password?", "ese_change_password"),
    ("what browsers does MassONE support?", "massone_browser_support"),
    ("what is ELAR?", "ese_elar"),
    ("who is eligible for a MassONE account?", "massone_eligibility"),
    ("are files in my personal folder private?", "massone_personal_folder_privacy"),
    ("is the ESE Security Portal secure?", "ese_portal_ssl"),
    ("are user names case sensitive?", "credentials_case_sensitive"),
    ("how can I register my students?", "massone_register_students"),
    ("what is a directory administrator?", "ese_directory_admin_role"),
    ("how long does registration take?", "massone_registration_time"),
    ("Is my MassONE login the same as my portal login?", "massone_vs_ese_login"),
)
SYSTEM_QUESTIONS = (  # (question, the system then chosen, the FAQ that must answer)
    ("I forgot my password", "massone", "forgot_password"),
    ("I can't log in", "ese_portal", "login_incorrect"),
    ("what is the help desk phone number", "massone", "massone_helpdesk_contact"),
    ("how do I change my password", "ese_portal", "ese_change_password"),
)
FIRST_NAMES = ("Pat", "Jordan", "Casey", "Morgan", "Riley", "Avery")
LAST_NAMES = ("Benchley", "Loadman", "Sampson", "Trialson")
SUMMARIES = (
    "My school's MassONE roster is missing half of my students.",
    "My MassONE class roster is missing some students.",
    "Please call me about my MassONE account.",
)


def faq_turns(rng: random.Random, tag: str) -> list[Turn]:
    """One to three FAQ questions."""
    return [Turn("faq", question, f"[faq] {faq_id}")
            for question, faq_id in rng.sample(FAQS, rng.randint(1, 3))]


def system_turns(rng: random.Random, tag: str) -> list[Turn]:
    """A question that needs the system, answered with the button's payload."""
    question, system, faq_id = rng.choice(SYSTEM_QUESTIONS)
    return [Turn("system_question", question, "[button] MassONE"),
            Turn("system_choice", f'/choose_system{{"system": "{system}"}}', f"[faq] {faq_id}")]


def recovery_turns(rng: random.Random, tag: str) -> list[Turn]:
    """A MassONE password reset or an ELAR user-name reminder for a made-up identity."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    born = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1960, 1999)}"
    done = "If those details match"
    if rng.random() < 0.5:
        return [Turn("recovery", "I forgot my MassONE password", "[faq] forgot_password"),
                Turn("recovery", f"bench{tag}", "first name"),
                Turn("recovery", first, "last name"),
                Turn("recovery", last, "date of birth"),
                Turn("recovery", born, done)]
    return [Turn("recovery", "I forgot my ELAR user name", "[faq] forgot_username"),
            Turn("recovery", first, "last name"),
            Turn("recovery", last, "date of birth"),
            Turn("recovery", born, "e-mail address"),
            Turn("recovery", f"bench-{tag}@example.org", done)]


def ticket_turns(rng: random.Random, tag: str) -> list[Turn]:
    """A request to talk to a person, filed with an address of its own (5 a day each)."""
    opening = rng.choice(("can I talk to a real person please", "I want to talk to a person"))
    return [Turn("ticket_form", opening, "what do you need help with?"),
            Turn("ticket_form", rng.choice(SUMMARIES), "Which e-mail address"),
            Turn("ticket_form", f"bench-{tag}@example.org", "Here is what I'll send"),
            Turn("ticket_submit", "/affirm", "Done: your request is HD-")]


SCRIPTS: dict[str, tuple[float, Callable[[random.Random, str], list[Turn]]]] = {
    "system": (0.20, system_turns),
    "ticket": (0.10, ticket_turns),
    "recovery": (0.15, recovery_turns),
    "faq": (0.55, faq_turns),
}
GREET_SHARE = 0.2  # conversations opening with a greeting


class ScriptPicker:
    """The next conversation, from one seeded sequence: one of each script first (the first
    with a greeting), so even a short run uses every turn type, then weighted at random."""

    def __init__(self, seed: int, run_id: str) -> None:
        self.rng = random.Random(seed)
        self.run_id = run_id
        self.count = 0

    def next(self) -> Conversation:
        names = list(SCRIPTS)
        if self.count < len(names):
            name, greet = names[self.count], self.count == 0
        else:
            weights = [SCRIPTS[script][0] for script in names]
            name = self.rng.choices(names, weights)[0]
            greet = self.rng.random() < GREET_SHARE
        tag = f"{self.run_id}{self.count:05d}"
        self.count += 1
        turns = SCRIPTS[name][1](self.rng, tag)
        if greet:
            turns.insert(0, Turn("greet", self.rng.choice(GREETINGS), "Hi!"))
        return Conversation(name, f"bench-{tag}", turns)


# ------------------------------------------------------------------------------ load


@dataclass(frozen=True)
class LoadConfig:
    users: int = 20
    duration: float = 60.0  # measured seconds, after the warm-up
    warmup: float = 5.0
    seed: int = 1
    think: tuple[float, float] = (0.2, 1.0)  # seconds between turns, uniform
    timeout: float = 30.0  # per request
    # At most this many conversations in all, each played to its end (None: until the time is up).
    # A short run that must use every turn type sets it, so the result does not depend on speed.
    conversations: int | None = None


@dataclass(frozen=True)
class Sample:
    kind: str
    start: float  # seconds since the load started
    latency: float  # seconds
    error: str | None = None  # None: a success
    detail: str = ""  # for an unexpected reply: what was sent and received

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class LoadRun:
    config: LoadConfig
    samples: list[Sample] = field(default_factory=list)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)


def flatten(replies: list[dict[str, Any]]) -> str:
    """The bot's messages as text: texts, "[button] <title>" and "[faq] <faq_id>" lines."""
    lines = []
    for reply in replies:
        lines.append(reply.get("text", ""))
        lines += [f"[button] {button.get('title')}" for button in reply.get("buttons", [])]
        if isinstance(reply.get("custom"), dict) and "faq_id" in reply["custom"]:
            lines.append(f"[faq] {reply['custom']['faq_id']}")
    return "\n".join(line for line in lines if line)


async def send_turn(session: aiohttp.ClientSession, endpoint: str, sender: str, turn: Turn,
                    clock: Callable[[], float]) -> Sample:
    """Send one turn and check its reply; failures become the sample's error."""
    start = clock()
    error, detail = None, ""
    try:
        body = {"sender": sender, "message": turn.message}
        async with session.post(endpoint, json=body) as response:
            if response.status != 200:
                error = f"HTTP {response.status}"
            else:
                replies = await response.json(content_type=None)
                text = flatten(replies) if isinstance(replies, list) else ""
                if not text:
                    error = "empty reply"
                elif turn.expect not in text:
                    error, detail = "unexpected reply", f"{turn.message!r} -> {text[:200]!r}"
    except asyncio.TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as failure:
        error = type(failure).__name__
    except ValueError:
        error = "invalid JSON"
    return Sample(turn.kind, start, clock() - start, error, detail)


async def simulated_user(session: aiohttp.ClientSession, endpoint: str, picker: ScriptPicker,
                         rng: random.Random, config: LoadConfig, clock: Callable[[], float],
                         samples: list[Sample]) -> None:
    """Conversations one after another until the end; a failed turn ends its conversation.

    With `config.conversations` set, each conversation is played to its end and the users stop
    when that many have been started (the time limit still applies)."""
    end = config.warmup + config.duration
    counted = config.conversations is not None
    while clock() < end:
        if counted and picker.count >= config.conversations:
            return
        conversation = picker.next()
        for turn in conversation.turns:
            await asyncio.sleep(rng.uniform(*config.think))
            if clock() >= end and not counted:
                return
            sample = await send_turn(session, endpoint, conversation.sender, turn, clock)
            samples.append(sample)
            if not sample.ok:
                break


def proc_status_mb(pid: int, key: str) -> float:
    """A /proc/<pid>/status memory figure (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {key} for pid {pid}")


class MemorySampler:
    """Resident memory of some processes every `interval` s; each one's peak."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        self.pids = pids
        self.interval = interval
        self.peaks: dict[str, float] = {}

    def sample(self) -> None:
        for label, pid in self.pids.items():
            with contextlib.suppress(OSError, ValueError):
                rss = proc_status_mb(pid, "VmRSS")
                self.peaks[label] = max(rss, self.peaks.get(label, 0.0))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def report(self) -> dict[str, dict[str, Any]]:
        """Peak of the samples, and the kernel's own peak (VmHWM) while the process lives."""
        report = {}
        for label, pid in self.pids.items():
            try:
                hwm = proc_status_mb(pid, "VmHWM")
            except (OSError, ValueError):
                hwm = None
            report[label] = {"pid": pid, "peak_rss_mb": self.peaks.get(label), "hwm_mb": hwm}
        return report


async def run_load(url: str, config: LoadConfig, pids: dict[str, int] | None = None) -> LoadRun:
    """`config.users` simulated users against the bot at `url` for warm-up + duration."""
    endpoint = f"{url.rstrip('/')}/webhooks/rest/webhook"
    picker = ScriptPicker(config.seed, secrets.token_hex(3))
    sampler = MemorySampler(pids or {})
    run = LoadRun(config)
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    timeout = aiohttp.ClientTimeout(total=config.timeout)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        memory = asyncio.create_task(sampler.run())
        try:
            await asyncio.gather(*(
                simulated_user(session, endpoint, picker, random.Random(config.seed * 1000 + i),
                               config, clock, run.samples)
                for i in range(config.users)
            ))
        finally:
            memory.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await memory
    run.memory = sampler.report()
    return run


# ------------------------------------------------------------------------------ statistics


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 (`bot.ops.stats.percentile`); None without values."""
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    return {f"p{round(100 * share)}": percentile(values, share) for share in (0.5, 0.95, 0.99)}


def _latency_row(samples: list[Sample]) -> dict[str, Any]:
    ms = [1000 * sample.latency for sample in samples if sample.ok]
    errors = sum(not sample.ok for sample in samples)
    return {"turns": len(samples), "errors": errors, **percentiles(ms)}


def summarize(name: str, url: str, run: LoadRun) -> dict[str, Any]:
    """Throughput, errors, latency (ms, successful turns) per turn type and overall, memory.

    A turn counts when it started in the measured window (after the warm-up)."""
    config = run.config
    end = config.warmup + config.duration
    measured = [s for s in run.samples if config.warmup <= s.start < end]
    errors = [s for s in measured if not s.ok]
    reasons: dict[str, int] = {}
    for sample in errors:
        reasons[sample.error] = reasons.get(sample.error, 0) + 1
    kinds = [kind for kind in TURN_KINDS if any(s.kind == kind for s in measured)]
    latency = {kind: _latency_row([s for s in measured if s.kind == kind]) for kind in kinds}
    latency["overall"] = _latency_row(measured)
    return {
        "name": name, "url": url, "users": config.users,
        "measured_seconds": config.duration, "warmup_seconds": config.warmup,
        "turns": len(measured), "successes": len(measured) - len(errors),
        "errors": len(errors), "error_share": len(errors) / len(measured) if measured else 0.0,
        "messages_per_second": (len(measured) - len(errors)) / config.duration,
        "errors_by_reason": reasons,
        "error_examples": [s.detail for s in errors if s.detail][:5],
        "latency_ms": latency,
        "memory_mb": run.memory,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_report(summary: dict[str, Any]) -> str:
    """The printed table of one target."""
    lines = [
        f"== {summary['name']}  {summary['url']}  {summary['users']} users, "
        f"{summary['measured_seconds']:g} s measured after {summary['warmup_seconds']:g} s "
        "warm-up",
        f"   throughput {summary['messages_per_second']:.2f} messages/s   turns "
        f"{summary['turns']}   errors {summary['errors']} ({100 * summary['error_share']:.1f}%)",
    ]
    if summary["errors_by_reason"]:
        lines.append("   errors: " + ", ".join(
            f"{reason} {count}" for reason, count in summary["errors_by_reason"].items()))
    lines += [f"   e.g. {example}" for example in summary["error_examples"][:3]]
    lines.append(f"   {'turn type':<16}{'turns':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}"
                 f"{'p99 ms':>9}")
    for kind, row in summary["latency_ms"].items():
        lines.append(f"   {kind:<16}{row['turns']:>7}{row['errors']:>8}{_ms(row['p50']):>9}"
                     f"{_ms(row['p95']):>9}{_ms(row['p99']):>9}")
    if summary["memory_mb"]:
        lines.append(f"   {'process':<22}{'pid':>8}{'peak RSS MB':>13}{'VmHWM MB':>10}")
        for label, memory in summary["memory_mb"].items():
            lines.append(f"   {label:<22}{memory['pid']:>8}{_ms(memory['peak_rss_mb']):>13}"
                         f"{_ms(memory['hwm_mb']):>10}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ output


def write_chart(summaries: list[dict[str, Any]], path: Path) -> Path:
    """The chart of `chart_figure` as a PNG at `path`."""
    import matplotlib.pyplot as plt

    figure = chart_figure(summaries)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def chart_figure(summaries: list[dict[str, Any]]) -> Any:
    """Grouped bars: p50 (solid) inside p95 (light) per turn type and target; throughput;
    peak memory of the Rasa servers and of the rest, a panel shown only when memory was
    measured (a run with `--url` and no `--pids` has none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in (*TURN_KINDS, "overall") if any(k in s["latency_ms"] for s in summaries)]
    names = [summary["name"] for summary in summaries]
    colors = [plt.get_cmap("tab10")(index) for index in range(len(summaries))]

    def total(summary: dict[str, Any], rasa: bool) -> float:
        return sum(m["peak_rss_mb"] or 0 for label, m in summary["memory_mb"].items()
                   if label.startswith("rasa") == rasa)

    rasa_mb = [total(summary, True) for summary in summaries]
    other_mb = [total(summary, False) for summary in summaries]
    ratios = [4, 1, 1] if any(rasa_mb) or any(other_mb) else [4, 1]
    figure, panels = plt.subplots(1, len(ratios), figsize=(2.5 * sum(ratios), 5.5),
                                  gridspec_kw={"width_ratios": ratios})
    latency, throughput = panels[:2]
    width = 0.8 / max(1, len(summaries))
    x = numpy.arange(len(kinds))
    for index, (summary, color) in enumerate(zip(summaries, colors, strict=True)):
        rows = [summary["latency_ms"].get(kind, {}) for kind in kinds]
        p50, p95 = ([row.get(p) or numpy.nan for row in rows] for p in ("p50", "p95"))
        offset = x - 0.4 + width * (index + 0.5)
        latency.bar(offset, p95, width, color=color, alpha=0.35, label=f"{summary['name']} p95")
        latency.bar(offset, p50, width * 0.6, color=color, label=f"{summary['name']} p50")
    latency.set_xticks(x, [kind.replace("_", "\n") for kind in kinds])
    latency.set_ylabel("reply latency (ms)")
    latency.set_title("Latency per turn type (successful turns)")
    latency.legend()
    latency.grid(axis="y", alpha=0.3)

    rates = [summary["messages_per_second"] for summary in summaries]
    bars = throughput.bar(names, rates, color=colors)
    for bar, summary in zip(bars, summaries, strict=True):
        throughput.annotate(f"{bar.get_height():.1f}/s\n{100 * summary['error_share']:.1f}% err",
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=9)
    throughput.set_ylabel("successful messages per second")
    throughput.set_title("Throughput")
    throughput.margins(y=0.2)

    if len(panels) == 3:
        memory = panels[2]
        memory.bar(names, rasa_mb, color="tab:purple", label="Rasa servers")
        memory.bar(names, other_mb, bottom=rasa_mb, color="tab:gray", label="other processes")
        memory.set_ylabel("sum of peak RSS (MB)")
        memory.set_title("Memory")
        memory.margins(y=0.25)
        memory.legend(fontsize=8, loc="upper left")

    users = ", ".join(f"{s['name']}: {s['users']} users" for s in summaries)
    figure.suptitle(f"Help-desk bot load benchmark ({users}, "
                    f"{summaries[0]['measured_seconds']:g} s measured)")
    figure.tight_layout()
    return figure


def save_results(report: dict[str, Any], directory: Path = OUT_DIR) -> list[Path]:
    """bench-<timestamp>.json, latest.json and latest.png in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    stamped = directory / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    stamped.write_text(text)
    (directory / "latest.json").write_text(text)
    chart = write_chart(report["targets"], directory / "latest.png")
    return [stamped, directory / "latest.json", chart]


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    pids: dict[str, int]


def process_label(args: Sequence[str]) -> str:
    """A short name for a process from its command line: rasa:5005, actions:5055, web:8000..."""
    args = [str(arg) for arg in args]
    roles = {"rasa_sdk": "actions", "bot.ops.action_server": "actions",
             "bot.ops.rasa_server": "rasa", "bot.web": "web", "bot.mail.worker": "mailer",
             "bot.mail.catcher": "mailcatcher"}
    if args and (Path(args[0]).name == "nginx" or args[0].startswith("nginx:")):
        label = "nginx"
    elif "-m" in args[:-1]:
        module = args[args.index("-m") + 1]
        label = roles.get(module, module)
    elif "run" in args and any(Path(arg).name == "rasa" for arg in args[:2]):
        label = "rasa"
    else:
        label = Path(args[0]).name if args else "?"
    if "--port" in args[:-1]:
        label += f":{args[args.index('--port') + 1]}"
    return label


def labelled(pids_and_args: Sequence[tuple[int, Sequence[str]]]) -> dict[str, int]:
    """{label: pid}, the pid added to a label already taken."""
    labels: dict[str, int] = {}
    for pid, args in pids_and_args:
        label = process_label(args)
        labels[f"{label} ({pid})" if label in labels else label] = pid
    return labels


def pids_of(pids: Sequence[int]) -> dict[str, int]:
    """Labels for running processes given by id (their /proc command lines)."""
    found = []
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            args = [f"pid-{pid}"]
        found.append((pid, [arg for arg in args if arg]))
    return labelled(found)


def recreate_database(url: str) -> None:
    """Drop and create the bench's own PostgreSQL database `url` names: each target starts
    empty."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          future=True)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def single_server(workdir: Path) -> Iterator[Target]:
    """The single-server stack on free ports, on the bench's PostgreSQL database."""
    from bot.db import upgrade
    from bot.ops.serve import Stack, free_port

    recreate_database(DATABASE_URL)
    upgrade(DATABASE_URL)
    stack = Stack(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                  smtp_port=free_port(), inbound_port=free_port(), log_dir=workdir / "logs",
                  mail_dir=workdir / "mail",
                  env={"DATABASE_URL": DATABASE_URL, "SECRET_KEY": "bench-secret-key"})
    try:
        stack.start()
        yield Target("single", stack.url,
                     labelled([(p.pid, p.args) for p in stack.processes]))
    finally:
        stack.stop()


@contextlib.contextmanager
def cluster(workdir: Path) -> Iterator[Target]:
    """Two Rasa and two action servers behind nginx, on the bench's PostgreSQL and Redis db."""
    from bot.ops.cluster import Cluster, Topology

    recreate_database(DATABASE_URL)
    recreate_database(TRACKER_STORE_URL)
    running = Cluster(Topology.free(), database_url=DATABASE_URL,
                      tracker_store_url=TRACKER_STORE_URL, lock_store_url=LOCK_STORE_URL,
                      directory=workdir, mail_dir=workdir / "mail",
                      env={"SECRET_KEY": "bench-secret-key"})
    try:
        running.start()
        yield Target("cluster", running.url,
                     labelled([(p.pid, p.args) for p in running.processes]))
    finally:
        running.stop()


def bench(target: Target, config: LoadConfig) -> dict[str, Any]:
    """Load one running target and summarize it."""
    print(f"Loading {target.name} at {target.url}: {config.users} users, "
          f"{config.warmup:g} s warm-up + {config.duration:g} s...", flush=True)
    run = asyncio.run(run_load(target.url, config, target.pids))
    summary = summarize(target.name, target.url, run)
    print(format_report(summary), flush=True)
    return summary


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--duration", type=float, default=60,
                        help="measured seconds, after the warm-up (default 60)")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds of load first, left out of the statistics (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="conversations and think times")
    parser.add_argument("--url", help="load this running bot only (its REST base URL)")
    parser.add_argument("--pids", type=int, nargs="+", default=[],
                        help="with --url: processes whose memory to sample")
    args = parser.parse_args(argv)
    if args.pids and not args.url:
        parser.error("--pids goes with --url")
    config = LoadConfig(users=args.users, duration=args.duration, warmup=args.warmup,
                        seed=args.seed)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    summaries: list[dict[str, Any]] = []
    interrupted = False
    try:
        if args.url:
            summaries.append(bench(Target("url", args.url, pids_of(args.pids)), config))
        else:
            for start in (single_server, cluster):
                with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as workdir:
                    print(f"Starting the {start.__name__.replace('_', ' ')} "
                          "(30-60 s)...", flush=True)
                    with start(Path(workdir)) as target:
                        summaries.append(bench(target, config))
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: stopped everything the bench started.", file=sys.stderr)
    if summaries:
        report = {"created": dt.datetime.now().isoformat(timespec="seconds"),
                  "config": asdict(config), "targets": summaries}
        for path in save_results(report):
            print(f"Wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
