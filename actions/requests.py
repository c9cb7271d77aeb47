"""The request form: collects the facts a ticket (or a lookup) needs, reads them back, acts.

One form serves every kind in knowledge/tickets.yml. Its only Rasa slot is `request_answer`;
the facts gathered so far live in `request_facts` and the kind in `request_kind`. Each turn
`validate_request_form` checks the answer to the first missing field; when none is missing,
the answer is the reply to the read-back ("yes", "change the e-mail", "cancel").
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import InterfaceError, OperationalError

from actions.replies import send_answer, technical_problem
from actions.validation import GuidedValidation, answer_question, leave
from bot.console.conversation_stats import TICKET
from bot.db import retry_on_disconnect
from bot.dialogue import in_form
from bot.dialogue import reading as dialogue_reading
from bot.dialogue.facts import find_user_name, without_user_name
from bot.dialogue.turns import Parsed
from bot.knowledge.districts import canonical_name
from bot.knowledge.entries import BOTH, SYSTEMS, Answer, KnowledgeBase
from bot.mail.outbox import utc_now
from bot.services import (
    conversation_key,
    directory_admins,
    knowledge,
    record_turn,
    ticket_service,
)
from bot.tickets.business_hours import HELP_DESK
from bot.tickets.fields import FieldProblem, check_answer, clean
from bot.tickets.kinds import CHOICE, RequestField, RequestKind, load_request_kinds
from bot.tickets.service import CREATED, FOUND, RATE_LIMITED, TicketRequest, labelled_facts, shown
from bot.tickets.transcript import masked_transcript

log = logging.getLogger(__name__)
_T = TypeVar("_T")

FORM = "request_form"
REQUEST_SLOTS = (
    "request_kind", "request_facts", "request_answer", "request_stage", "offered_request",
)
CONFIRMED = "confirmed"
CHOOSING_FIELD = "choosing_field"  # request_stage after "change something"
FIELD_ENTITY = "ticket_field"
DISTRICT_ENTITY = "district"
_CHANGE_WORDS = re.compile(r"\b(change|wrong|fix|edit|mistake|typo)\b", re.IGNORECASE)
STATUS_WORDS = {
    "open": "open: waiting for the help desk",
    "in_progress": "in progress: someone at the help desk is working on it",
    "waiting_on_user": "waiting for your reply: check your e-mail",
    "resolved": "resolved",
}


def start_request(kind_id: str, facts: dict[str, str] | None = None) -> list[EventType]:
    """The events that open the request form for `kind_id`, with the facts the opening message
    already gave (bot.dialogue.manager finds them)."""
    opening = {**load_request_kinds()[kind_id].opening_facts(), **(facts or {})}
    return [
        SlotSet("request_kind", kind_id),
        SlotSet("request_facts", opening),
        SlotSet("request_answer", None),
        SlotSet("request_stage", None),
        SlotSet("offered_request", None),
        FollowupAction(FORM),
    ]


def _kind(tracker: Tracker) -> RequestKind:
    return load_request_kinds()[tracker.get_slot("request_kind")]


def _facts(tracker: Tracker) -> dict[str, str]:
    return dict(tracker.get_slot("request_facts") or {})


def _entity(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def read_back(kind: RequestKind, facts: dict[str, str]) -> str:
    lines = [f"- {label}: {shown(value)}" for label, value in labelled_facts(kind.id, facts)]
    return "Here is what I'll send to the help desk:\n" + "\n".join(lines)


def _inform_payload(entity: str, value: str) -> str:
    return "/inform" + json.dumps({entity: value})


class ActionAskRequestAnswer(Action):
    """Asks for the next missing fact, or reads them all back and asks to confirm."""

    def name(self) -> str:
        return "action_ask_request_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind, facts = _kind(tracker), _facts(tracker)
        field = kind.next_missing(facts)
        if field is not None:
            dispatcher.utter_message(text=field.prompt, buttons=_field_buttons(field, facts))
            return []
        if tracker.get_slot("request_stage") == CHOOSING_FIELD:
            dispatcher.utter_message(
                text=knowledge().reply("which_detail"),
                buttons=[
                    {"title": field.label, "payload": _inform_payload(FIELD_ENTITY, field.name)}
                    for field in kind.fields
                ],
            )
            return []
        dispatcher.utter_message(
            text=read_back(kind, facts) + "\n\n" + knowledge().reply("shall_i_send"),
            buttons=[
                {"title": "Yes, send it", "payload": "/affirm"},
                {"title": "Change something", "payload": "/deny"},
                {"title": "Cancel", "payload": "/stop"},
            ],
        )
        return []


def _field_buttons(field: RequestField, facts: dict[str, str]) -> list[dict[str, str]]:
    """"I don't know" for an optional fact; the accounts named so far for a choice among them."""
    if field.type == CHOICE:
        return [
            {"title": shown(facts.get(name, ""))[:60], "payload": f"the {ordinal} account"}
            for ordinal, name in zip(("first", "second"), field.of, strict=False)
        ]
    return [{"title": "I don't know", "payload": "I don't know"}] if field.optional else []


class ValidateRequestForm(GuidedValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_request_form"

    async def validate_request_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # the form opening: nothing typed yet
            return {"request_answer": None}
        kind, facts = _kind(tracker), _facts(tracker)
        field = kind.next_missing(facts)
        if field is None:
            return self._confirmation(dispatcher, tracker, kind, facts)
        kb = knowledge()  # with the answers edited in the console
        parsed = Parsed.from_rasa(tracker.latest_message)
        asked = in_form.Asked(field.name, field.type, field.optional, labels=_labels(kind))
        reading = in_form.read_answer(parsed, asked, kb, tracker.get_slot("system"), kind.id,
                                      is_valid=lambda text: _is_valid(field, text, facts))
        if reading.kind == in_form.ANSWER:
            return self._check(dispatcher, tracker, kind, facts, field, reading.value or "")
        return self._not_an_answer(reading, dispatcher, tracker, kb, kind, facts, field)

    def _check(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, kind: RequestKind,
        facts: dict[str, str], field: RequestField, text: str,
    ) -> dict[str, Any]:
        district = _entity(tracker, DISTRICT_ENTITY)
        chosen = None
        if field.type == "district" and text.startswith("/") and district:
            text = district  # a suggestion button, naming a district as listed ("Boxford")
            chosen = canonical_name(district)
        companion = kind.offered_with(field.name)
        if companion is not None and not facts.get(companion.name):
            given = find_user_name(text)  # "Jo Doe, user name jdoe7"
            if given:
                facts[companion.name] = given
                text = without_user_name(text)
        try:
            facts[field.name] = chosen or check_answer(field, text, facts=facts)
        except FieldProblem as problem:
            buttons = [
                {"title": name, "payload": _inform_payload(DISTRICT_ENTITY, name)}
                for name in problem.suggestions
            ]
            dispatcher.utter_message(text=problem.reply, buttons=buttons)
            return {"request_answer": None}
        done = kind.next_missing(facts) is None and not kind.confirm
        return {"request_facts": facts, "request_answer": CONFIRMED if done else None}

    def _not_an_answer(
        self, reading: in_form.Reading, dispatcher: CollectingDispatcher, tracker: Tracker,
        kb: KnowledgeBase, kind: RequestKind, facts: dict[str, str], field: RequestField,
    ) -> dict[str, Any]:
        """A question, a stop, a change of mind...: acted on; the field is asked again."""
        if reading.kind == in_form.STOP:
            return leave("action_stop_flow", "request_answer")
        if reading.kind == in_form.SWITCH_FLOW:
            return leave("action_respond", *REQUEST_SLOTS)
        if reading.kind == in_form.SWITCH_SYSTEM and reading.system:
            if not kind.applies_to(reading.system):
                answer = kb.resolve(kind.id, reading.system)
                if isinstance(answer, Answer):
                    send_answer(dispatcher, answer)
                return {**leave("action_listen", *REQUEST_SLOTS), "system": reading.system}
            dispatcher.utter_message(text=kb.reply("system_switched").format(
                system=kb.system_name(reading.system)))
            return {"request_answer": None, "system": reading.system}
        if reading.kind == in_form.CORRECTION and reading.field in facts:
            if reading.value:
                try:
                    facts[reading.field] = check_answer(kind.field(reading.field), reading.value)
                    dispatcher.utter_message(text=kb.reply("detail_corrected"))
                except FieldProblem as problem:
                    dispatcher.utter_message(text=problem.reply)
            else:
                facts.pop(reading.field)
                dispatcher.utter_message(text=kb.reply("detail_to_correct"))
            return {"request_facts": facts, "request_answer": None}
        if reading.kind == in_form.DONT_KNOW:
            if field.optional:
                facts[field.name] = ""
                return {"request_facts": facts, "request_answer": None}
            dispatcher.utter_message(text=kb.reply("dont_know_required"))
            return {"request_answer": None}
        if reading.kind == in_form.QUESTION:
            remembered = answer_question(dispatcher, kb, reading.entry_id,
                                         tracker.get_slot("system"))
            return {"request_answer": None, **remembered}
        if reading.kind == in_form.WAIT:
            dispatcher.utter_message(text=kb.reply("take_your_time"))
        elif reading.kind == in_form.SMALL_TALK:
            dispatcher.utter_message(response=reading.entry_id)
        else:
            dispatcher.utter_message(text=kb.reply("off_topic_in_form"))
        return {"request_answer": None}

    def _confirmation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, kind: RequestKind,
        facts: dict[str, str],
    ) -> dict[str, Any]:
        """The reply to the read-back: yes sends, a field name re-asks it, anything else helps."""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = clean(tracker.latest_message.get("text") or "")
        if dialogue_reading.is_stop(text) or intent == "stop":
            return leave("action_stop_flow", "request_answer")
        choosing = tracker.get_slot("request_stage") == CHOOSING_FIELD
        verdict = dialogue_reading.polarity(text, intent)
        wants_change = bool(_CHANGE_WORDS.search(text)) or (
            verdict == dialogue_reading.NO and not choosing
        )
        if verdict == dialogue_reading.YES and not wants_change and not choosing:
            return {"request_answer": CONFIRMED, "request_stage": None}
        chosen = _entity(tracker, FIELD_ENTITY)
        if chosen is None and (choosing or wants_change):
            chosen = _field_named(kind, text)
        if chosen in facts:
            for name in (chosen, *kind.dependents(chosen)):  # a choice among it is asked again
                facts.pop(name, None)
            dispatcher.utter_message(text=f"OK, let's fix the {kind.field(chosen).label.lower()}.")
            return {"request_facts": facts, "request_answer": None, "request_stage": None}
        if wants_change and not choosing:
            return {"request_answer": None, "request_stage": CHOOSING_FIELD}
        if choosing and verdict == dialogue_reading.YES:
            return {"request_answer": CONFIRMED, "request_stage": None}
        dispatcher.utter_message(
            text="Please choose the detail to change, or say \"yes\" to send it as it is."
            if choosing else
            'Please say "yes" to send it, tell me which detail to change, or say "cancel".'
        )
        return {"request_answer": None}


def _is_valid(field: RequestField, text: str, facts: dict[str, str]) -> bool:
    try:
        check_answer(field, text, facts=facts)
    except FieldProblem:
        return False
    return True


def _labels(kind: RequestKind) -> dict[str, tuple[str, ...]]:
    """How people name each fact of `kind` when correcting it."""
    synonyms = {"email": ("email", "e mail", "address"), "phone": ("phone", "number", "cell")}
    return {
        field.name: (" ".join(dialogue_reading.words(field.label)),
                     *synonyms.get(field.type, ()))
        for field in kind.fields
    }


_NOT_DISTINCTIVE = frozenset("the of to as it or and now what they were contact".split())


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower().replace("e-mail", "email"))) - _NOT_DISTINCTIVE


def _field_named(kind: RequestKind, text: str) -> str | None:
    """The one field a correction in words names ("the e-mail is wrong", "change the new
    school"): the label sharing most words with the text, if no other label shares as many."""
    said = _words(text)
    scores = sorted(
        ((len(_words(field.label) & said), field.name) for field in kind.fields), reverse=True
    )
    best_score, best = scores[0]
    if best_score == 0 or (len(scores) > 1 and scores[1][0] == best_score):
        return None
    return best


class ActionCompleteRequest(Action):
    """Acts on a completed request: files the ticket, or looks up a status or an administrator."""

    def name(self) -> str:
        return "action_complete_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kb = knowledge()  # with the answers edited in the console
        kind = load_request_kinds().get(tracker.get_slot("request_kind"))
        facts = checked_facts(kind, tracker.get_slot("request_facts")) if kind else None
        system = tracker.get_slot("system")
        if facts is None or system not in (None, BOTH, *SYSTEMS):
            log.warning("request not completed: the details did not pass the checks")
            dispatcher.utter_message(text=kb.reply("details_not_accepted"))
            return [SlotSet(slot, None) for slot in REQUEST_SLOTS]
        conversation = conversation_key(tracker.sender_id)
        try:
            if kind.id == "ticket_status":
                reply = await with_database(_status_reply, kb, conversation, facts)
            elif kind.id == "find_directory_admin":
                reply = await with_database(directory_admin_reply, kb, facts["district"])
            else:
                request = TicketRequest(
                    kind=kind.id,
                    system=system,
                    contact_email=facts["contact_email"],
                    facts=facts,
                    transcript=masked_transcript(tracker.events),
                )
                submission = await with_database(ticket_service().submit, conversation, request)
                if submission.outcome != RATE_LIMITED:
                    await asyncio.to_thread(record_turn, tracker.sender_id, TICKET)
                reply = _ticket_reply(kb, kind, request, submission.outcome, submission.reference)
        except (OperationalError, InterfaceError) as error:
            # The database stayed unreachable: say so, and keep everything for "yes" again
            # (a repeated submission is recognised and files nothing twice).
            log.error("request not completed: %s", type(error).__name__)
            dispatcher.utter_message(text=kb.reply("request_failed"))
            return [SlotSet("request_answer", None), FollowupAction(FORM)]
        except Exception as error:  # a plain answer; the error's text may hold the facts
            technical_problem(dispatcher, "request", error)
            return [SlotSet(slot, None) for slot in REQUEST_SLOTS]
        dispatcher.utter_message(text=reply)
        return [SlotSet(slot, None) for slot in REQUEST_SLOTS]


def checked_facts(kind: RequestKind, given: Any) -> dict[str, str] | None:
    """The facts of a completed request checked again, each as if the user had just typed it
    (the slots come in the request from the Rasa server, and a forged one can say anything):
    the values to act on, or None when a fact is unknown to the kind, missing or fails its
    check."""
    if not isinstance(given, dict) or not set(given) <= {field.name for field in kind.fields}:
        return None
    checked: dict[str, str] = {}
    for field in kind.fields:
        value = given.get(field.name)
        if not isinstance(value, str):
            return None
        if not value and (field.optional or field.offered_with):
            checked[field.name] = ""  # "I don't know", or not given with its question
            continue
        try:
            checked[field.name] = check_answer(field, value, facts=checked)
        except FieldProblem:
            return None
    return checked


async def with_database(function: Callable[..., _T], *args: Any) -> _T:
    """Run a database call in a thread, riding out a short database restart."""
    return await asyncio.to_thread(retry_on_disconnect, lambda: function(*args))


def _ticket_reply(
    kb: KnowledgeBase, kind: RequestKind, request: TicketRequest, outcome: str,
    reference: str | None,
) -> str:
    if outcome == RATE_LIMITED:
        return kb.reply("rate_limited")
    template = kb.reply("ticket_created" if outcome == CREATED else "ticket_added")
    parts = [template.format(reference=reference, email=request.contact_email)]
    after = kb.replies.get("ticket_after", {}).get(kind.id)
    if after:
        parts.append(kb.render(after))
    parts.append(HELP_DESK.expectation_text(utc_now()))
    return " ".join(parts)


def _status_reply(kb: KnowledgeBase, conversation: str, facts: dict[str, str]) -> str:
    result = ticket_service().status(conversation, facts["reference"], facts["contact_email"])
    if result.outcome == RATE_LIMITED:
        return kb.reply("rate_limited")
    if result.outcome != FOUND:
        return kb.reply("ticket_not_found")
    return kb.reply("ticket_status").format(
        reference=result.reference, title=result.title,
        status=STATUS_WORDS.get(result.status, result.status),
        updated=f"{result.updated_at:%B %-d, %Y}",
    )


def directory_admin_reply(kb: KnowledgeBase, district: str) -> str:
    admins = directory_admins(district)
    if not admins:
        return kb.reply("directory_admin_unknown").format(district=district)
    people = "; ".join(
        f"{admin.first_name} {admin.last_name}, {admin.email}"
        + (f", {admin.phone}" if admin.phone else "")
        for admin in admins
    )
    return kb.reply("directory_admin_found").format(district=district, people=people)
