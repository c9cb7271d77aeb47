"""Whole conversations played against the real bot: `make eval-conversations`.

`python -m bot.ops.eval_conversations [--set PATH] [--only D001,D002] [--json FILE]` starts a
private `Stack` (free ports, its own SQLite database with the demo accounts and Directory
Administrators, its own mail folder), plays each conversation of the set with a new sender id
over REST, reads every reply (text, buttons, `custom` payload) and the tracker
(`GET /conversations/<sender>/tracker`), and checks each turn's `expect` keys and each
conversation's `outcome` (the outbox and the tickets table). The set's format is the header of
`tests/eval/conversations_dev.yml`.

It prints conversations fully right, turns right (unmarked and `users_need` turns apart, turns
after a conversation's first failure reported as "after a failure"), by tag, and for each
failing conversation what went wrong. It is a measurement, not a gate: the exit status is 0.

The checking is pure functions (`observe`, `check_turn`, `check_outcome`, `summarise`) over
plain data, tested without a server; `Player` does the HTTP and the database.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import string
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, select

from bot.db import make_engine, session_factory, upgrade
from bot.knowledge.entries import KnowledgeBase, load_knowledge
from bot.models import (
    OutboxMail,
    RecoveryAttempt,
    ResetToken,
    Ticket,
    TicketEvent,
    TicketStatusCheck,
)
from bot.ops.serve import DEFAULT_MODEL, Stack, free_port
from bot.settings import ROOT
from bot.tickets.kinds import RequestKind, load_request_kinds

DEV_SET = ROOT / "tests" / "eval" / "conversations_dev.yml"
LOG_DIR = ROOT / "build" / "eval_conversations" / "logs"
RECOVERY_FORMS = ("username_form", "password_form")
RECOVERY_SLOTS = ("account_identifier", "first_name", "last_name", "birth_date", "email")
REQUEST_FORM = "request_form"
CHOOSING_FIELD = "choosing_field"  # request_stage after "change something" (actions/requests.py)
REFERENCE = re.compile(r"\bHD-\d{4}-\d{6}\b")
SMALLTALK = ("greet", "goodbye", "thank", "bot", "ack")
SHOWN = 120  # characters of the bot's reply shown for a failure

# ------------------------------------------------------------------------------------------
# THE MAPPING: how the bot shows each thing the set names (one table).
#
# The set's names for flows, FAQ ids, forms, request kinds, fields, districts, mail kinds and
# ticket kinds are the bot's own (knowledge/*.yml, knowledge/tickets.yml, domain.yml, the
# outbox kinds), so they need no mapping. What differs is how a reply *shows* a key: the bot
# marks answers with a `custom` payload (kind faq/flow, faq_id), forms with active_loop events
# and slots (request_kind, request_facts, request_stage, requested_slot), and everything else
# only by the words it says. Each key below names the replies that show it:
#   "reply:<name>[/<variant>]"  a reply of knowledge/replies.yml (all variants when none named;
#                               placeholders such as {reference} or {district} match any text)
#   "domain:<response>"          a response of domain.yml
#   "text:<words>"               literal words of actions/requests.py
# Decisions where the reply's shape makes a key ambiguous, taken from what a person sees:
#   - smalltalk greet: "help" gets utter_help with the menu buttons, the bot's other opener
#     (bot/dialogue/manager.py MENU_RESPONSES); a person sees the same greeting menu.
#   - smalltalk ack: the header's list, plus utter_goodbye: "ok I'll call them, thanks" answered
#     "Goodbye, and good luck" is a short acknowledgement with no answer, form or ticket.
#   - fallback: the honest refusal only: out_of_scope outside a form, off_topic_in_form inside
#     one. "Did you mean...?" buttons (did_you_mean) are not the refusal; they are reported in
#     the turn's facts.
#   - ticket_ref: the reference in the "filed" / "added to your open request" reply, not the
#     example reference of a prompt ("It looks like HD-2026-000123").
#   - asks: the form waits for the field after the turn (tracker: requested_slot of the
#     recovery forms; the first field missing from request_facts, or request_stage) AND the
#     reply carries that field's question (a person must see it asked).
#   - refuses: the field asked before is asked again, not stored, and the bot said something
#     besides the question that is not an answer, a refusal of the topic, small talk, or one
#     of the "neutral" replies below (take your time, I don't know, switched system...).
#   - stops: the form active before the turn is left and the bot says flow_stopped.
#   - outcome mail: only the kinds the set knows (SET_MAIL_KINDS). The bot now also mails the
#     address on file of a deactivated account how to get it reactivated (issue 11, item 14:
#     `reactivation_advice`), which the set predates; such mails are listed, not failed.
SET_MAIL_KINDS = frozenset({"username_reminder", "password_reset", "ticket_created",
                            "ticket_updated"})
MARKERS: dict[str, tuple[str, ...]] = {
    "smalltalk:greet": ("domain:utter_greet", "domain:utter_help"),
    "smalltalk:goodbye": ("domain:utter_goodbye",),
    "smalltalk:thank": ("domain:utter_thank",),
    "smalltalk:bot": ("domain:utter_iamabot",),
    "smalltalk:ack": ("domain:utter_affirm", "domain:utter_deny", "domain:utter_thank",
                      "domain:utter_goodbye", "reply:advice_helped", "reply:nothing_to_stop",
                      "reply:system_noted"),
    "fallback": ("reply:out_of_scope", "reply:off_topic_in_form"),
    "did_you_mean": ("reply:did_you_mean",),
    "asks_system": ("reply:ask_system", "reply:ask_system_again", "reply:one_system_at_a_time"),
    "asks_solved": ("reply:did_that_help",),
    "recovery:sent": ("reply:username_sent", "reply:reset_sent"),
    "recovery:rate_limited": ("reply:rate_limited",),
    "ticket_ref": ("reply:ticket_created", "reply:ticket_added"),
    "ticket_status:found": ("reply:ticket_status",),
    "ticket_status:not_found": ("reply:ticket_not_found",),
    "admin_for": ("reply:directory_admin_found", "reply:directory_admin_unknown"),
    "readback": ("text:Here is what I'll send to the help desk:",),
    "asks:choosing_field": ("reply:which_detail",),
    "stops": ("reply:flow_stopped",),
    "neutral": ("reply:take_your_time", "reply:dont_know", "reply:dont_know_required",
                "reply:system_switched", "reply:detail_corrected", "reply:detail_to_correct",
                "domain:utter_greet", "domain:utter_help", "domain:utter_goodbye",
                "domain:utter_thank", "domain:utter_iamabot", "domain:utter_affirm",
                "domain:utter_deny"),
}
# `handoff: true`: the reply names at least one of these ways to reach a person (the header's).
HANDOFF_CONTACTS = (
    "massonehelp@doe.mass.edu", "781-338-3020", "loginhelp@doe.mass.edu", "(781) 338-6600",
    "http://www.doe.mass.edu/infoservices/data/diradmin/list.aspx",
)
EXPECT_KEYS = frozenset(
    "answer flow asks_system system starts asks refuses takes suggests readback ticket_ref "
    "ticket_status admin_for asks_solved recovery stops fallback handoff smalltalk not".split()
)


def norm(text: Any) -> str:
    """Compared as a person reads it: case folded, whitespace collapsed."""
    return " ".join(str(text if text is not None else "").split()).casefold()


def template_pattern(template: str) -> re.Pattern[str]:
    """A reply template as a pattern: literal words exact (whitespace collapsed), each
    `{placeholder}` any text, captured under its name."""
    parts, seen = [], set()
    for literal, name, _spec, _conversion in string.Formatter().parse(" ".join(template.split())):
        parts.append(re.escape(literal))
        if name is not None:
            group = re.sub(r"\W", "_", name)
            parts.append("(.+?)" if group in seen or not group else f"(?P<{group}>.+?)")
            seen.add(group)
    return re.compile("".join(parts), re.IGNORECASE)


@dataclass
class Marks:
    """What the bot says, loaded once from knowledge/ and domain.yml: the MARKERS as patterns,
    the questions the forms ask, and the request kinds."""

    patterns: dict[str, list[re.Pattern[str]]]
    recovery_prompts: dict[str, str]  # slot -> utter_ask_<slot> text
    kinds: dict[str, RequestKind]
    which_detail: str  # the question of request_stage choosing_field

    @classmethod
    def load(cls, kb: KnowledgeBase | None = None, domain_file: Path = ROOT / "domain.yml",
             kinds: dict[str, RequestKind] | None = None) -> Marks:
        kb = kb or load_knowledge()
        domain = yaml.safe_load(domain_file.read_text(encoding="utf-8"))
        responses = {name: [item["text"] for item in items if "text" in item]
                     for name, items in domain.get("responses", {}).items()}
        patterns = {key: [template_pattern(text) for spec in specs
                          for text in _marker_texts(spec, kb, responses)]
                    for key, specs in MARKERS.items()}
        prompts = {slot: responses[f"utter_ask_{slot}"][0] for slot in RECOVERY_SLOTS}
        which = _marker_texts(MARKERS["asks:choosing_field"][0], kb, responses)[0]
        return cls(patterns, prompts, kinds or load_request_kinds(), which)

    def find(self, key: str, texts: list[str]) -> list[re.Match[str]]:
        """Every match of the marker `key` in the replies."""
        said = [" ".join(text.split()) for text in texts]
        return [match for pattern in self.patterns[key] for text in said
                for match in [pattern.search(text)] if match]

    def prompt(self, state: dict[str, Any], asked: str | None) -> str | None:
        """The question the form puts for `asked` in `state`."""
        if asked is None:
            return None
        if asked == CHOOSING_FIELD:
            return self.which_detail
        if state.get("active_loop") in RECOVERY_FORMS:
            return self.recovery_prompts.get(asked)
        kind = self.kinds.get(state.get("slots", {}).get("request_kind") or "")
        names = {f.name: f.prompt for f in kind.fields} if kind else {}
        return names.get(asked)

    def field_type(self, kind: str, name: str) -> str | None:
        fields = {f.name: f.type for f in self.kinds[kind].fields} if kind in self.kinds else {}
        return fields.get(name)


def _marker_texts(spec: str, kb: KnowledgeBase, responses: dict[str, list[str]]) -> list[str]:
    source, _, name = spec.partition(":")
    if source == "domain":
        return responses[name]
    if source == "text":
        return [name]
    name, _, variant = name.partition("/")
    raw = kb.replies[name]
    if isinstance(raw, dict) and not variant:
        return [kb.render(text) for text in raw.values() if isinstance(text, str)]
    return [kb.reply(name, variant or None)]


# ------------------------------------------------------------------------------------------
# One turn as seen: replies, the tracker before and after, the turn's events.
def tracker_state(tracker: dict[str, Any]) -> dict[str, Any]:
    """What the checks read from a `GET /conversations/<sender>/tracker` result."""
    latest = tracker.get("latest_message") or {}
    intent = latest.get("intent") or {}
    return {
        "active_loop": (tracker.get("active_loop") or {}).get("name"),
        "slots": dict(tracker.get("slots") or {}),
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 3),
    }


def waiting_for(state: dict[str, Any], marks: Marks) -> str | None:
    """The field the active form waits for: requested_slot of a recovery form; in the request
    form the first field missing from request_facts, choosing_field, or None at the read-back."""
    loop, slots = state.get("active_loop"), state.get("slots") or {}
    if loop in RECOVERY_FORMS:
        return slots.get("requested_slot")
    if loop != REQUEST_FORM:
        return None
    kind = marks.kinds.get(slots.get("request_kind") or "")
    if kind is None:
        return None
    missing = kind.next_missing(dict(slots.get("request_facts") or {}))
    if missing is not None:
        return missing.name
    return CHOOSING_FIELD if slots.get("request_stage") == CHOOSING_FIELD else None


def form_values(state: dict[str, Any]) -> dict[str, str]:
    """What the forms hold: the recovery slots and the request's facts."""
    slots = state.get("slots") or {}
    values = {slot: slots[slot] for slot in RECOVERY_SLOTS if slots.get(slot) is not None}
    values.update({k: v for k, v in dict(slots.get("request_facts") or {}).items()})
    return values


@dataclass
class Observation:
    """What one turn showed, derived from the replies and the tracker (plain data, for JSON)."""

    texts: list[str]
    buttons: list[str]
    answers: list[str]
    flows: list[str]
    starts: list[str]
    left_form: bool
    asked_before: str | None
    waiting_for: str | None
    asks: str | None
    asks_system: bool
    system: str | None
    values: dict[str, Any]
    refused: str | None
    readback: bool
    ticket_refs: list[str]
    references: list[str]
    ticket_status: str | None
    admin_for: list[str]
    asks_solved: bool
    recovery: str | None
    stopped: bool
    fallback: bool
    did_you_mean: bool
    handoff: bool
    smalltalk: list[str]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def said(self) -> str:
        return " | ".join(" ".join(text.split()) for text in self.texts)


def observe(
    replies: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any],
    events: list[dict[str, Any]], marks: Marks,
) -> Observation:
    """The turn as a person (and the tracker) saw it. `before`/`after`: tracker_state()."""
    texts = [str(reply["text"]) for reply in replies if reply.get("text")]
    buttons = [button for reply in replies for button in reply.get("buttons") or []]
    customs = [reply["custom"] for reply in replies if isinstance(reply.get("custom"), dict)]
    answers = [str(c.get("faq_id")) for c in customs if c.get("kind") == "faq"]
    flows = [str(c.get("faq_id")) for c in customs if c.get("kind") == "flow"]

    starts, left = [], False
    kind = (before.get("slots") or {}).get("request_kind")
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "request_kind":
            kind = event.get("value")
        elif event.get("event") == "active_loop":
            name = event.get("name")
            if name:
                starts.append(f"{name}/{kind}" if name == REQUEST_FORM else name)
            elif before.get("active_loop"):
                left = True
    left = left or bool(before.get("active_loop") and not after.get("active_loop"))

    said = norm(" ".join(texts))
    asked_before, waiting = waiting_for(before, marks), waiting_for(after, marks)
    prompt = marks.prompt(after, waiting)
    asks = waiting if prompt and norm(prompt) in said else None
    values = form_values(after)
    fallback = bool(marks.find("fallback", texts))
    ticket_refs = [m.group("reference") for m in marks.find("ticket_ref", texts)]
    smalltalk = [name for name in SMALLTALK if marks.find(f"smalltalk:{name}", texts)]

    refused = None
    if asked_before and asks == asked_before and not values.get(asked_before) \
            and not answers and not flows and not fallback:
        neutral = marks.patterns["neutral"]
        other = [text for text in texts
                 if not (prompt and norm(prompt) in norm(text))
                 and not any(p.search(" ".join(text.split())) for p in neutral)]
        refused = asked_before if other else None

    found = "found" if marks.find("ticket_status:found", texts) else None
    if marks.find("ticket_status:not_found", texts):
        found = "not_found"
    recovery = "sent" if marks.find("recovery:sent", texts) else None
    if recovery is None and marks.find("recovery:rate_limited", texts):
        recovery = "rate_limited"
    slots = after.get("slots") or {}
    facts = {
        "intent": f"{after.get('intent')} {after.get('confidence')}",
        "active_loop": after.get("active_loop"),
        **{name: slots.get(name) for name in (
            "requested_slot", "system", "request_kind", "request_facts", "request_stage",
            "pending_question", "offered_request", "last_answer", "last_flow")
           if slots.get(name) not in (None, "", {})},
    }
    return Observation(
        texts=texts,
        buttons=[str(b.get("title")) for b in buttons],
        answers=answers,
        flows=flows,
        starts=starts,
        left_form=left,
        asked_before=asked_before,
        waiting_for=waiting,
        asks=asks,
        asks_system=bool(marks.find("asks_system", texts)
                         or any(str(b.get("payload", "")).startswith("/choose_system")
                                for b in buttons)) and not answers and not flows and not starts,
        system=slots.get("system"),
        values=values,
        refused=refused,
        readback=bool(marks.find("readback", texts)),
        ticket_refs=ticket_refs,
        references=REFERENCE.findall(" ".join(texts)),
        ticket_status=found,
        admin_for=[m.group("district") for m in marks.find("admin_for", texts)],
        asks_solved=bool(marks.find("asks_solved", texts)),
        recovery=recovery,
        stopped=bool(marks.find("stops", texts)),
        fallback=fallback,
        did_you_mean=bool(marks.find("did_you_mean", texts)),
        handoff=any(contact.casefold() in said for contact in HANDOFF_CONTACTS),
        smalltalk=smalltalk,
        facts=facts,
    )


# ------------------------------------------------------------------------------------------
# Checking a turn's `expect` and a conversation's `outcome`.
def happened(key: str, obs: Observation) -> list[str]:
    """What the turn showed for `key` (empty: nothing of that kind), as strings."""
    shown: dict[str, Any] = {
        "answer": obs.answers, "flow": obs.flows, "starts": obs.starts, "asks": obs.asks,
        "asks_system": obs.asks_system, "system": obs.system, "refuses": obs.refused,
        "readback": obs.readback, "ticket_ref": obs.ticket_refs,
        "ticket_status": obs.ticket_status, "admin_for": obs.admin_for,
        "asks_solved": obs.asks_solved, "recovery": obs.recovery, "stops": obs.stopped,
        "fallback": obs.fallback, "handoff": obs.handoff, "smalltalk": obs.smalltalk,
    }
    value = shown.get(key)
    if value is True:
        return ["true"]
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def check_turn(expect: dict[str, Any], obs: Observation) -> list[str]:
    """The expectations of one turn that did not hold, each as "key: expected ..., saw ..."."""
    failures = []
    for key, want in expect.items():
        if key not in EXPECT_KEYS:
            failures.append(f"{key}: not a key of the set's format")
        elif key == "not":
            for item in want:
                name, _, value = str(item).partition(":")
                seen = happened(name, obs)
                hit = [v for v in seen if norm(v) == norm(value)] if value else seen
                if hit:
                    failures.append(f"not {item}: it happened ({', '.join(hit)})")
        elif not _holds(key, want, obs):
            failures.append(f"{key}: expected {_shown(want)}, saw {_seen(key, obs)}")
    return failures


def _holds(key: str, want: Any, obs: Observation) -> bool:
    nothing_started = not (obs.answers or obs.flows or obs.starts or obs.admin_for)
    if want is False:
        return not happened(key, obs)
    if key == "takes":
        return all(norm(obs.values.get(name)) == norm(value) for name, value in want.items())
    if key == "suggests":
        offered = norm(" ".join(obs.texts + obs.buttons))
        return all(norm(name) in offered for name in want)
    if key == "fallback":
        return obs.fallback and nothing_started
    if key == "stops":
        return obs.stopped and obs.left_form and not obs.ticket_refs and obs.recovery is None
    if key == "smalltalk":
        quiet = not (obs.answers or obs.flows or obs.starts or obs.ticket_refs)
        return want in obs.smalltalk and (want != "ack" or quiet)
    seen = happened(key, obs)
    if want is True:
        return bool(seen)
    return any(norm(v) == norm(want) for v in seen)


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _seen(key: str, obs: Observation) -> str:
    if key == "takes":
        return _shown(obs.values)
    if key == "suggests":
        return _shown(obs.buttons) if obs.buttons else "no buttons"
    if key == "asks" and obs.asks is None and obs.waiting_for:
        return f"none (the form waits for {obs.waiting_for} without asking)"
    if key == "stops" and obs.stopped and not obs.left_form:
        return "the stop reply, but no form was left"
    if key == "smalltalk":
        besides = obs.answers + obs.flows + obs.starts + obs.ticket_refs
        said = ", ".join(obs.smalltalk) or "none"
        return said + (f" (and {', '.join(besides)})" if besides else "")
    seen = happened(key, obs)
    return ", ".join(seen) if seen else "none"


def check_outcome(
    outcome: dict[str, Any] | None, mails: list[tuple[str, str]],
    tickets: list[dict[str, Any]], marks: Marks,
) -> list[str]:
    """What the conversation sent and filed against its `outcome`: exactly these mails (by
    address and kind) and tickets (kind, system if given, key facts)."""
    outcome = outcome or {}
    failures = []
    want_mails = Counter((norm(m["to"]), m["kind"]) for m in outcome.get("mail") or [])
    got_mails = Counter((norm(to), kind) for to, kind in mails if kind in SET_MAIL_KINDS)
    if want_mails != got_mails:
        failures.append(f"mail: expected {_mail_list(want_mails)}, sent {_mail_list(got_mails)}")
    wanted = list(outcome.get("tickets") or [])
    if len(wanted) != len(tickets) or not any(
        all(_ticket_matches(w, t, marks) for w, t in zip(wanted, order, strict=True))
        for order in itertools.permutations(tickets)
    ):
        failures.append(f"tickets: expected {_shown(wanted) if wanted else 'none'}, "
                        f"filed {_shown(tickets) if tickets else 'none'}")
    return failures


def _mail_list(mails: Counter) -> str:
    return ", ".join(f"{kind} to {to}" + (f" x{n}" if n > 1 else "")
                     for (to, kind), n in sorted(mails.items())) or "none"


def _ticket_matches(want: dict[str, Any], got: dict[str, Any], marks: Marks) -> bool:
    if want.get("kind") != got.get("kind"):
        return False
    if "system" in want and norm(want["system"]) != norm(got.get("system")):
        return False
    facts = got.get("facts") or {}
    for name, value in (want.get("facts") or {}).items():
        stored, expected = norm(facts.get(name)), norm(value)
        if marks.field_type(want["kind"], name) == "text":
            if expected not in stored:  # a free-text field must contain the given text
                return False
        elif stored != expected:
            return False
    return True


# ------------------------------------------------------------------------------------------
# Results and the report.
@dataclass
class TurnResult:
    index: int
    user: str
    users_need: bool
    failures: list[str]
    after_failure: bool  # a failure came earlier in the same conversation
    observation: Observation
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class ConversationResult:
    id: str
    tags: list[str]
    about: str
    turns: list[TurnResult]
    outcome_failures: list[str]
    mails: list[tuple[str, str]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the conversation could not be played (HTTP error...)

    @property
    def outcome_right(self) -> bool:
        return not self.outcome_failures and self.error is None

    @property
    def passed(self) -> bool:
        return self.outcome_right and all(turn.passed for turn in self.turns)

    @property
    def first_failure(self) -> TurnResult | None:
        return next((turn for turn in self.turns if not turn.passed), None)


def mark_after_failure(turns: list[TurnResult]) -> None:
    """Turns build on each other: those after the first failed one are "after a failure"."""
    failed = False
    for turn in turns:
        turn.after_failure = failed
        failed = failed or not turn.passed


def _bucket(turn: TurnResult) -> str:
    if turn.after_failure:
        return "after_failure"
    return "users_need" if turn.users_need else "unmarked"


def _stats(results: list[ConversationResult]) -> dict[str, Any]:
    turns: dict[str, list[int]] = {b: [0, 0] for b in ("unmarked", "users_need", "after_failure")}
    for result in results:
        for turn in result.turns:
            counts = turns[_bucket(turn)]
            counts[0] += turn.passed
            counts[1] += 1
    every = [turn for result in results for turn in result.turns]
    return {
        "conversations": len(results),
        "fully_right": sum(r.passed for r in results),
        "outcomes_right": sum(r.outcome_right for r in results),
        "turns": {bucket: {"passed": p, "total": t} for bucket, (p, t) in turns.items()},
        "all_turns": {"passed": sum(t.passed for t in every), "total": len(every)},
    }


def summarise(results: list[ConversationResult]) -> dict[str, Any]:
    """The figures: overall, by first tag and by every tag, and the commonest failed keys."""
    first_tags = sorted({r.tags[0] for r in results if r.tags})
    every_tag = sorted({tag for r in results for tag in r.tags})
    first_failures: Counter = Counter()
    all_failures: Counter = Counter()
    for result in results:
        for turn in result.turns:
            keys = {failure.split(":", 1)[0] for failure in turn.failures}
            all_failures.update(keys)
            if turn is result.first_failure:
                first_failures.update(keys)
        for failure in result.outcome_failures:
            all_failures["outcome " + failure.split(":", 1)[0]] += 1
    return {
        **_stats(results),
        "by_first_tag": {tag: _stats([r for r in results if r.tags and r.tags[0] == tag])
                         for tag in first_tags},
        "by_tag": {tag: _stats([r for r in results if tag in r.tags]) for tag in every_tag},
        "first_failures_by_key": dict(first_failures.most_common()),
        "failures_by_key": dict(all_failures.most_common()),
    }


def _ratio(counts: dict[str, int]) -> str:
    passed, total = counts["passed"], counts["total"]
    return f"{passed}/{total}" + (f" ({100 * passed / total:.1f}%)" if total else "")


def _table(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"{title:<18}{'convs':>6}{'right':>7}{'outcome':>8}{'unmarked turns':>17}"
             f"{'users_need':>12}{'after fail':>12}"]
    for tag, s in groups.items():
        t = s["turns"]
        lines.append(
            f"  {tag:<16}{s['conversations']:>6}{s['fully_right']:>7}{s['outcomes_right']:>8}"
            f"{t['unmarked']['passed']:>10}/{t['unmarked']['total']:<6}"
            f"{t['users_need']['passed']:>6}/{t['users_need']['total']:<5}"
            f"{t['after_failure']['passed']:>6}/{t['after_failure']['total']:<5}"
        )
    return lines


def format_report(results: list[ConversationResult], summary: dict[str, Any]) -> str:
    """The compact printed report."""
    n = summary["conversations"]
    turns = summary["turns"]
    lines = [
        f"Conversations fully right: {_ratio({'passed': summary['fully_right'], 'total': n})}; "
        f"outcomes (mail, tickets) right: {summary['outcomes_right']}/{n}",
        f"Turns before a conversation's first failure: unmarked {_ratio(turns['unmarked'])}, "
        f"users_need {_ratio(turns['users_need'])}",
        f"Turns after a failure: {_ratio(turns['after_failure'])}; "
        f"every turn checked on its own: {_ratio(summary['all_turns'])}",
        "",
        *_table("by first tag", summary["by_first_tag"]),
        "",
        *_table("by every tag", summary["by_tag"]),
        "",
        "First failures by key: " + (", ".join(
            f"{key} {count}" for key, count in summary["first_failures_by_key"].items()
        ) or "none"),
        "All failures by key: " + (", ".join(
            f"{key} {count}" for key, count in summary["failures_by_key"].items()
        ) or "none"),
    ]
    failing = [r for r in results if not r.passed]
    if failing:
        lines += ["", f"Failing conversations ({len(failing)}):"]
    for result in failing:
        lines.append(f"{result.id} [{', '.join(result.tags)}] {result.about}")
        if result.error:
            lines.append(f"    could not be played: {result.error}")
        for turn in result.turns:
            if turn.passed:
                continue
            label = ("after a failure" if turn.after_failure
                     else "users_need" if turn.users_need else "FIRST FAILURE")
            lines.append(f"  turn {turn.index} ({label}): {turn.user!r}")
            lines += [f"    - {failure}" for failure in turn.failures]
            if not turn.after_failure:
                lines.append(f"    bot: {turn.observation.said[:SHOWN]!r}")
                lines.append(f"    tracker: {_shown(turn.observation.facts)}")
        lines += [f"  outcome: {failure}" for failure in result.outcome_failures]
    return "\n".join(lines)


def to_json(results: list[ConversationResult], summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "conversations": [
            {**{k: v for k, v in asdict(r).items() if k != "turns"},
             "passed": r.passed, "outcome_right": r.outcome_right,
             "turns": [{**asdict(t), "passed": t.passed} for t in r.turns]}
            for r in results
        ],
    }


# ------------------------------------------------------------------------------------------
# Playing: HTTP to the Rasa server, and the stack's database.
def load_set(path: Path, only: set[str] | None = None) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("version") != 1:
        raise ValueError(f"{path}: expected version: 1")
    conversations = data["conversations"]
    if only:
        unknown = only - {c["id"] for c in conversations}
        if unknown:
            raise ValueError(f"not in {path.name}: {', '.join(sorted(unknown))}")
        conversations = [c for c in conversations if c["id"] in only]
    return conversations


class Player:
    """Plays conversations against a running stack and its database.

    `reset`: clear recovery attempts, reset tokens, tickets, status checks and the outbox before
    each conversation (only on a database of the harness's own). Without it, outcomes are still
    read from the rows each conversation added.
    """

    def __init__(self, rasa_url: str, database_url: str, marks: Marks, *, reset: bool = True,
                 token: str | None = None, timeout: float = 180) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.sessions = session_factory(make_engine(database_url))
        self.marks = marks
        self.reset = reset
        self.token = token
        self.timeout = timeout
        self.run_id = secrets.token_hex(4)

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.rasa_url + path
        if self.token:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"token": self.token})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def clear(self, drain_seconds: float = 15) -> None:
        """Forget what earlier conversations did; first let the outbox worker finish sending."""
        deadline = time.monotonic() + drain_seconds
        with self.sessions() as session:
            while time.monotonic() < deadline and session.execute(
                select(func.count(OutboxMail.id)).where(OutboxMail.sent_at.is_(None))
            ).scalar_one():
                time.sleep(0.3)
        with self.sessions() as session, session.begin():
            for table in (TicketEvent, Ticket, ResetToken, RecoveryAttempt, TicketStatusCheck,
                          OutboxMail):
                session.execute(delete(table))

    def _last_ids(self) -> tuple[int, int]:
        with self.sessions() as session:
            return (session.execute(select(func.max(OutboxMail.id))).scalar_one() or 0,
                    session.execute(select(func.max(Ticket.id))).scalar_one() or 0)

    def _outcome(self, after: tuple[int, int]) -> tuple[list[tuple[str, str]], list[dict]]:
        with self.sessions() as session:
            mails = [(to, kind) for to, kind in session.execute(
                select(OutboxMail.to_address, OutboxMail.kind)
                .where(OutboxMail.id > after[0]).order_by(OutboxMail.id))]
            tickets = [{"kind": kind, "system": system, "facts": json.loads(facts)}
                       for kind, system, facts in session.execute(
                           select(Ticket.kind, Ticket.system, Ticket.facts)
                           .where(Ticket.id > after[1]).order_by(Ticket.id))]
        return mails, tickets

    def play(self, conversation: dict[str, Any]) -> ConversationResult:
        if self.reset:
            self.clear()
        start_ids = self._last_ids()
        sender = f"eval-{self.run_id}-{conversation['id']}"
        tracker_path = f"/conversations/{urllib.parse.quote(sender, safe='')}/tracker"
        before, seen_events = tracker_state({}), 0
        turns: list[TurnResult] = []
        last_reference: str | None = None
        error = None
        for index, turn in enumerate(conversation["turns"], start=1):
            text = str(turn["user"])
            if last_reference:
                text = text.replace("{ref}", last_reference)
            started = time.perf_counter()
            try:
                replies = self._request("/webhooks/rest/webhook",
                                        {"sender": sender, "message": text}) or []
                tracker = self._request(tracker_path)
            except OSError as problem:  # urllib's errors included
                error = f"turn {index}: {type(problem).__name__}: {problem}"
                break
            events = tracker.get("events") or []
            after = tracker_state(tracker)
            obs = observe(replies, before, after, events[seen_events:], self.marks)
            shown_refs = obs.ticket_refs or obs.references
            last_reference = shown_refs[-1] if shown_refs else last_reference
            turns.append(TurnResult(
                index=index, user=text, users_need=bool(turn.get("users_need")),
                failures=check_turn(turn.get("expect") or {}, obs), after_failure=False,
                observation=obs, seconds=round(time.perf_counter() - started, 3),
            ))
            before, seen_events = after, len(events)
        mark_after_failure(turns)
        mails, tickets = self._outcome(start_ids)
        return ConversationResult(
            id=conversation["id"], tags=list(conversation.get("tags") or []),
            about=str(conversation.get("about") or ""), turns=turns,
            outcome_failures=check_outcome(conversation.get("outcome"), mails, tickets,
                                           self.marks),
            mails=mails, tickets=tickets, error=error,
        )


@contextmanager
def private_stack(model: Path = DEFAULT_MODEL, timeout: float = 600) -> Iterator[tuple[Stack, str]]:
    """The whole bot on free ports with a SQLite database of its own holding the demo accounts
    and Directory Administrators, and a mail folder of its own (as tests/conftest.py's)."""
    from bot.cli import DEMO_ACCOUNTS
    from bot.directory.admins_import import import_admins
    from bot.directory.cli import DEMO_ADMINS
    from bot.recovery.accounts_import import import_accounts, read_file

    with tempfile.TemporaryDirectory(prefix="helpdesk-eval-") as home:
        database_url = f"sqlite:///{Path(home) / 'helpdesk.sqlite3'}"
        upgrade(database_url)
        with session_factory(make_engine(database_url))() as session:
            import_accounts(session, read_file(DEMO_ACCOUNTS))
            import_admins(session, read_file(DEMO_ADMINS))
        stack = Stack(
            rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
            smtp_port=free_port(), inbound_port=free_port(), model=model, log_dir=LOG_DIR,
            mail_dir=Path(home) / "mail",
            env={"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32)},
        ).start(timeout=timeout)
        try:
            yield stack, database_url
        finally:
            stack.stop()


def play_all(player: Player, conversations: list[dict[str, Any]],
             progress: bool = True) -> list[ConversationResult]:
    results = []
    for number, conversation in enumerate(conversations, start=1):
        result = player.play(conversation)
        results.append(result)
        if progress:
            mark = "ok  " if result.passed else "FAIL"
            print(f"[{number}/{len(conversations)}] {mark} {result.id}", file=sys.stderr,
                  flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.ops.eval_conversations",
        description="Play multi-turn conversations against a private stack and check them.",
    )
    parser.add_argument("--set", type=Path, default=DEV_SET, help="the conversation set (YAML)")
    parser.add_argument("--only", default="", help="conversation ids, comma-separated")
    parser.add_argument("--json", type=Path, help="write every result and figure here")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()} or None
    conversations = load_set(args.set, only)
    marks = Marks.load()
    started = time.monotonic()
    print(f"Starting a private stack for {len(conversations)} conversations "
          f"(logs in {LOG_DIR})...", file=sys.stderr, flush=True)
    with private_stack(args.model) as (stack, database_url):
        results = play_all(Player(stack.url, database_url, marks, token=stack.api_token),
                           conversations)
    summary = summarise(results)
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["set"] = str(args.set)
    print(format_report(results, summary))
    print(f"\n{len(conversations)} conversations in {summary['seconds']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, summary), indent=1, default=str))
        print(f"Saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
