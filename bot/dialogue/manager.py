"""What the bot does with a message outside a form, given what it asked last.

The order of the checks is the conversation design:
1. An open question of the bot's ("which system?", "did that solve it?") decides what a short
   reply means; a new request typed instead is taken as a new request.
2. After a recovery flow, "send it again" or "it never came" is about that flow.
3. A short follow-up ("and for massone?", "what about worcester") leans on the last answer.
4. Otherwise the message stands on its own: an answer from knowledge/, a flow, small talk, or,
   when the bot is unsure, the likeliest topics as buttons, and after two misses a person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from bot.console.conversation_stats import ANSWERED, FALLBACK
from bot.dialogue import facts, reading
from bot.dialogue.systems import BOTH, affirmed_systems, chosen_system, mentioned_systems
from bot.dialogue.turns import Parsed, State, Turn
from bot.knowledge.districts import match_district
from bot.knowledge.entries import SYSTEMS, Answer, KnowledgeBase
from bot.nlu.understanding import CONFIDENT, FIND_ADMIN, Understanding, understand
from bot.tickets.kinds import RequestKind

# Answers that send people to their Directory Administrator: a district named next is for a lookup.
ABOUT_ADMINS = frozenset({FIND_ADMIN, "ese_directory_admin_role", "ese_data_tool_access",
                          "ese_profile_partial_match"})
SUGGEST_FROM = 0.25  # the least confidence a topic needs to be offered as "did you mean"
MAX_SUGGESTIONS = 3
# Replies to small talk: a domain response each.
SMALL_TALK = {
    "greet": "utter_greet", "help": "utter_help", "goodbye": "utter_goodbye",
    "thank": "utter_thank", "bot_challenge": "utter_iamabot", "affirm": "utter_affirm",
    "deny": "utter_deny", "inform": "utter_inform_outside_form",
}
MENU_RESPONSES = ("utter_greet", "utter_help")
PERSON = "human_handoff"
# The two ways to a person when someone is free to chat: the buttons' payloads carry which.
LIVE_NOW, LIVE_LATER = "now", "later"
PersonNow = Callable[[], "int | None"]  # minutes to wait for a live chat; None: nobody free


def handoff_choice(parsed: Parsed) -> str | None:
    """"now" or "later" from the buttons '/human_handoff{"live": "now"}' and '...later'."""
    prefix = f"/{PERSON}{{"
    if not parsed.text.startswith(prefix):
        return None
    try:
        choice = json.loads(parsed.text[len(prefix) - 1:]).get("live")
    except (ValueError, AttributeError):
        return None
    return choice if choice in (LIVE_NOW, LIVE_LATER) else None


def other_system(system: str | None) -> str | None:
    if system not in SYSTEMS:
        return None
    return next(s for s in SYSTEMS if s != system)


class Manager:
    """Decides a Turn for one message outside a form."""

    def __init__(self, kb: KnowledgeBase, kinds: dict[str, RequestKind],
                 person_now: PersonNow | None = None) -> None:
        """`person_now`: asked only when a person is wanted; the expected wait in minutes for
        a live chat with the help desk, or None when nobody can chat now."""
        self.kb = kb
        self.kinds = kinds
        self._person_now = person_now
        self._wait: tuple[int | None] | None = None

    def live_wait(self) -> int | None:
        """Minutes to wait for a live chat (asked once per message), None: nobody free."""
        if self._person_now is None:
            return None
        if self._wait is None:
            self._wait = (self._person_now(),)
        return self._wait[0]

    # ------------------------------------------------------------------ entry point
    def respond(self, parsed: Parsed, state: State) -> Turn:
        self._wait = None  # whether someone is free to chat is asked afresh for each message
        understood = understand(parsed.raw or _as_parse(parsed), self.kb)
        if state.pending_question:
            turn = self._which_system_reply(parsed, understood, state)
            if turn is not None:
                return turn
        if state.offered_request:
            turn = self._did_that_help_reply(parsed, understood, state)
            if turn is not None:
                return turn
        if (parsed.intent in ("retry", "not_received") and understood.kind != "fallback") or (
            state.last_flow and not self._is_new_request(understood, None)
            and (reading.says_not_received(parsed.text) or reading.asks_again(parsed.text))
        ):
            return self._after_flow(parsed, state)
        if "who" in reading.words(parsed.text) and (
            state.last_answer in ABOUT_ADMINS or not self._is_new_request(understood, None)
        ):
            district = self.district_in(parsed)
            if district:  # "our district is Newton, who is that?", "who is it for worcester"
                return Turn(admins_of=district, outcome=ANSWERED, slots={"last_answer": FIND_ADMIN})
        corrected = self._system_corrected(parsed, understood, state)
        if corrected is not None:
            return corrected
        if state.last_answer and reading.is_elliptical(parsed.text):
            turn = self._follow_up(parsed, understood, state)
            if turn is not None:
                return turn
        return self._on_its_own(parsed, understood, state)

    # ------------------------------------------------------------------ replies to questions
    def _which_system_reply(
        self, parsed: Parsed, understood: Understanding, state: State
    ) -> Turn | None:
        pending = state.pending_question
        if len(reading.words(parsed.text)) >= 3 and self._is_new_request(understood, pending):
            return None  # a new question ("is massone free?"), answered as one
        choice = chosen_system(parsed.text, list(parsed.entities), self.kb)
        if choice in SYSTEMS:
            return self._answer(pending, choice, parsed, replace(state, pending_question=None),
                                remember=choice)
        if choice == BOTH and pending in self.kb.entries and \
                self.kb.entries[pending].kind == "faq":  # "both": a question, answered for each
            settled = replace(state, pending_question=None)
            turn = self._answer(pending, SYSTEMS[0], parsed, settled)
            return self._answer(pending, SYSTEMS[1], parsed, settled, turn=turn)
        if choice == BOTH:  # a procedure: one system at a time
            return Turn(slots={"pending_question": pending}).say(
                self.kb.reply("one_system_at_a_time"), buttons=self.system_buttons()
            )
        if self._is_new_request(understood, pending):
            return None
        if parsed.intent in ("stop", "deny", "goodbye", "thank"):
            turn = self._on_its_own(parsed, understood, replace(state, pending_question=None))
            turn.slots["pending_question"] = None
            return turn
        return Turn(slots={"pending_question": pending}).say(
            self.kb.reply("ask_system_again"), buttons=self.system_buttons()
        )

    def _did_that_help_reply(
        self, parsed: Parsed, understood: Understanding, state: State
    ) -> Turn | None:
        kind = state.offered_request
        verdict = reading.polarity(parsed.text, parsed.intent)
        repeated = understood.answer_id == kind
        if verdict is None and not repeated and self._is_new_request(understood, kind):
            return None
        if verdict == reading.NO or repeated:
            turn = Turn(slots={"offered_request": None}, outcome=ANSWERED)
            turn.say(self.kb.reply("advice_did_not_help"))
            return self._open_request(turn, kind, parsed)
        if verdict == reading.YES:
            return Turn(slots={"offered_request": None}).say(self.kb.reply("advice_helped"))
        return Turn(slots={"offered_request": kind}).say(
            self.kb.reply("did_that_help"), buttons=self.solved_buttons()
        )

    def _is_new_request(self, understood: Understanding, pending: str | None) -> bool:
        return (understood.kind in ("faq", "flow") and understood.answer_id != pending
                and understood.confidence >= CONFIDENT)

    # ------------------------------------------------------------------ after a flow
    def _after_flow(self, parsed: Parsed, state: State) -> Turn:
        flow = state.last_flow
        if flow is None:
            return Turn().say(response="utter_help", buttons=self.menu_buttons())
        again = parsed.intent == "retry" or reading.asks_again(parsed.text)
        said = self._said_system(parsed)
        system = said or (other_system(state.system) if reading.means_the_other(parsed.text)
                          else state.system)
        if again:
            same = system == state.system
            turn = Turn().say(self.kb.reply("try_again")) if same else Turn()
            return self._answer(flow, system, parsed, state, remember=system, quiet=same,
                                turn=turn)
        return Turn().say(
            self.kb.reply("mail_not_received", system or "ese_portal"),
            buttons=[{"title": "Send it again", "payload": "/retry"}],
        )

    def _system_corrected(self, parsed: Parsed, understood: Understanding,
                          state: State) -> Turn | None:
        """"oh wait, I mean the login I use for ELAR, not massone": the last answer again, for
        the system the person meant."""
        last = state.last_answer
        if last not in self.kb.entries or not reading.is_correction(parsed.text):
            return None
        said = self._said_system(parsed)
        if said not in SYSTEMS or said == state.system:
            return None
        named = mentioned_systems(parsed.entities, self.kb)
        negated = state.system in named and state.system not in affirmed_systems(
            parsed.text, list(parsed.entities), self.kb)
        if self._is_new_request(understood, last) and not negated:
            return None
        return self._answer(last, said, parsed, state, remember=said, explicit=said)

    # ------------------------------------------------------------------ follow-ups
    def _follow_up(self, parsed: Parsed, understood: Understanding, state: State) -> Turn | None:
        last = state.last_answer
        district = self.district_in(parsed)
        if district and last == FIND_ADMIN:
            return Turn(admins_of=district, outcome=ANSWERED,
                        slots={"last_answer": FIND_ADMIN})
        if understood.kind in ("faq", "flow") and understood.confidence >= CONFIDENT and \
                understood.answer_id != last:
            return None  # "also will massone work on my ipad?": a question of its own
        system = self._said_system(parsed) or chosen_system(
            parsed.text, list(parsed.entities), self.kb
        )
        if system is None and reading.means_the_other(parsed.text):
            system = other_system(state.system)  # "and on the other system?"
        if system in SYSTEMS and last in self.kb.entries:
            return self._answer(last, system, parsed, state, remember=system, explicit=system)
        if last in self.kb.entries and self._mentions_answer(parsed.text, last, state):
            return self._answer(last, state.system, parsed, state)
        return None

    def _mentions_answer(self, text: str, entry_id: str, state: State) -> bool:
        """The follow-up's content words appear in the last answer ("and for my students?")."""
        answer = self.kb.resolve(entry_id, state.system)
        if not isinstance(answer, Answer):
            return False
        content = {w for w in reading.words(text) if len(w) > 3} - _FOLLOW_UP_WORDS
        said = set(reading.words(answer.text))
        stems = {w.rstrip("s") for w in said}
        return bool(content) and all(w in said or w.rstrip("s") in stems for w in content)

    # ------------------------------------------------------------------ a message on its own
    def _on_its_own(self, parsed: Parsed, understood: Understanding, state: State) -> Turn:
        intent = parsed.intent
        polite = reading.closing(parsed.text)
        if polite and reading.will_contact_them(parsed.text):  # "ok I'll call them, thanks"
            return Turn(slots={"misses": 0}).say(response=SMALL_TALK[polite])
        if understood.kind in ("faq", "flow"):
            said = self._said_system(parsed)
            return self._answer(understood.answer_id, said or state.system, parsed, state,
                                remember=said, explicit=said)
        if intent == "choose_system":
            return self._system_named(parsed)
        if intent == "stop":
            return Turn().say(self.kb.reply("nothing_to_stop"))
        if intent in SMALL_TALK:
            response = SMALL_TALK[intent]
            buttons = self.menu_buttons() if response in MENU_RESPONSES else []
            return Turn(slots={"misses": 0}).say(response=response, buttons=buttons)
        if intent == "cant_log_in":
            said = self._said_system(parsed)
            turn = Turn(slots={"system": said} if said else {}, outcome=ANSWERED)
            return turn.say(self.kb.reply("cant_log_in"), buttons=self.login_buttons())
        return self._not_understood(parsed, understood, state)

    def _system_named(self, parsed: Parsed) -> Turn:
        said = self._said_system(parsed) or chosen_system(
            parsed.text, list(parsed.entities), self.kb
        )
        if said in SYSTEMS:
            return Turn(slots={"system": said}).say(
                self.kb.reply("system_noted").format(system=self.kb.system_name(said))
            )
        return Turn().say(response="utter_help", buttons=self.menu_buttons())

    def _not_understood(self, parsed: Parsed, understood: Understanding, state: State) -> Turn:
        polite = reading.closing(parsed.text)
        if polite:  # "ok I'll email them then, thank you"
            return Turn(slots={"misses": 0}).say(response=SMALL_TALK[polite])
        named = mentioned_systems(parsed.entities, self.kb)
        if len(named) > 1 and reading.compares(parsed.text):  # "is massone a different account?"
            return self._answer("massone_vs_ese_login", None, parsed, state)
        misses = state.misses + 1
        turn = Turn(slots={"misses": misses, "pending_question": None}, outcome=FALLBACK,
                    unanswered=parsed.text)
        # Out of scope is refused plainly, unless it names one of the systems: then it is more
        # likely a question asked in words the model does not know.
        out = "out_of_scope" in (parsed.intent, understood.intent) and not named
        suggestions = [] if out else self.suggestions(parsed)
        if suggestions:
            turn.say(self.kb.reply("did_you_mean"), buttons=suggestions)
        else:
            turn.say(self.kb.reply("out_of_scope"))
        if misses >= 2:
            wait = self.live_wait()
            if wait is not None:
                turn.say(self.kb.reply("offer_person"), buttons=self.person_buttons())
            else:
                turn.say(self.kb.reply("offer_person"), buttons=[
                    {"title": "Leave a request for a person", "payload": "/human_handoff"},
                ])
        return turn

    def person_buttons(self) -> list[dict[str, str]]:
        """"Chat with someone now" next to "Leave a request"."""
        return [
            {"title": self.kb.reply("live_button_now"),
             "payload": f'/{PERSON}{{"live": "{LIVE_NOW}"}}'},
            {"title": self.kb.reply("live_button_later"),
             "payload": f'/{PERSON}{{"live": "{LIVE_LATER}"}}'},
        ]

    def _person(self, turn: Turn, kind: RequestKind, parsed: Parsed) -> Turn | None:
        """A person asked for: a live chat now when someone is free (offered first, started
        when chosen), else None for the request as before."""
        choice = handoff_choice(parsed)
        if choice == LIVE_LATER:
            return None
        wait = self.live_wait()
        if choice == LIVE_NOW:
            if wait is not None:
                turn.live_chat = True
                return turn
            turn.say(self.kb.reply("live_nobody_now"))
            return self._open_request(turn, kind.id, parsed)
        if wait is None:
            return None
        minutes = "1 minute" if wait == 1 else f"{wait} minutes"
        return turn.say(self.kb.reply("live_offer").format(wait=minutes),
                        buttons=self.person_buttons())

    def suggestions(self, parsed: Parsed) -> list[dict[str, str]]:
        """The likeliest topics as buttons whose payload is their canonical question."""
        found: list[str] = []
        for intent, confidence in parsed.intents:
            if confidence < SUGGEST_FROM:
                break
            if intent == "faq":
                found += [faq for faq, score in parsed.faqs[:2]
                          if score >= SUGGEST_FROM and faq in self.kb.entries]
            elif intent in self.kb.entries:
                found.append(intent)
        unique = list(dict.fromkeys(found))[:MAX_SUGGESTIONS]
        return [{"title": self.kb.entries[e].question, "payload": self.kb.entries[e].question}
                for e in unique]

    # ------------------------------------------------------------------ answering
    def _answer(
        self, entry_id: str, system: str | None, parsed: Parsed, state: State, *,
        remember: str | None = None, explicit: str | None = None, quiet: bool = False,
        turn: Turn | None = None,
    ) -> Turn:
        """Answer `entry_id` for `system`, asking for the system when the answer depends on it,
        then start what the answer offers. `explicit`: the system this message itself named."""
        turn = turn or Turn()
        turn.slots.update(misses=0, pending_question=None)
        if remember:
            turn.slots["system"] = remember
        entry_id = self._two_systems(entry_id, parsed)
        entry = self.kb.entries[entry_id]
        if explicit and entry.system not in (explicit, "both") and not entry.counterpart:
            turn.outcome = ANSWERED
            turn.slots["last_answer"] = entry_id
            return turn.say(self.kb.reply("no_procedure", explicit))
        if entry_id == FIND_ADMIN and explicit == "massone":
            return turn.say(self.kb.reply("massone_admin_lookup"))
        result = self.kb.resolve(entry_id, system)
        if not isinstance(result, Answer):
            turn.slots["pending_question"] = entry_id
            return turn.say(self.kb.reply("ask_system"), buttons=self.system_buttons())
        turn.outcome = ANSWERED
        turn.slots["last_answer"] = result.entry_id
        return self._act_on(turn, result, parsed, state, quiet)

    def _two_systems(self, entry_id: str, parsed: Parsed) -> str:
        """An ESE login and a MassONE login are two systems, not two accounts to merge."""
        both = len(mentioned_systems(parsed.entities, self.kb)) > 1
        if entry_id == "merge_duplicate_accounts" and both:
            return "massone_vs_ese_login"
        # "elar pw same as massone?", "does that change my ELAR password too?": a question
        # comparing the two systems is answered by the one that says they are separate.
        if both and self.kb.entries[entry_id].kind == "faq" and reading.compares(parsed.text):
            return "massone_vs_ese_login"
        return entry_id

    def _act_on(self, turn: Turn, answer: Answer, parsed: Parsed, state: State,
                quiet: bool) -> Turn:
        kind = self.kinds.get(answer.entry_id)
        if answer.entry_id in (FIND_ADMIN, "ese_directory_admin_role"):
            district = self.district_in(parsed)
            if district:
                turn.admins_of = district
                return turn
        if kind is not None and kind.id == PERSON:
            live = self._person(turn, kind, parsed)
            if live is not None:
                return live
        if kind is not None and kind.offer_after_advice:
            if state.offered_request == kind.id:  # told again: the advice did not help
                turn.say(self.kb.reply("advice_did_not_help"))
                return self._open_request(turn, kind.id, parsed)
            self._say_answer(turn, answer)
            turn.slots["offered_request"] = kind.id
            return turn.say(self.kb.reply("did_that_help"), buttons=self.solved_buttons())
        if not quiet:
            self._say_answer(turn, answer)
        if kind is not None and answer.starts is None and kind.applies_to(answer.system):
            if answer.system in SYSTEMS:
                turn.slots["system"] = answer.system
            return self._open_request(turn, kind.id, parsed)
        if answer.starts:
            turn.form = answer.starts
            turn.form_slots = self.recovery_facts(answer.starts, parsed)
            if answer.system in SYSTEMS:
                turn.slots["system"] = answer.system
        return turn

    @staticmethod
    def _say_answer(turn: Turn, answer: Answer) -> None:
        turn.say(answer.text)
        turn.say(custom=answer.payload())

    def _open_request(self, turn: Turn, kind_id: str, parsed: Parsed) -> Turn:
        turn.request = kind_id
        turn.request_facts = self.request_facts(kind_id, parsed)
        turn.slots["offered_request"] = None
        return turn

    # ------------------------------------------------------------------ facts given early
    def recovery_facts(self, form: str, parsed: Parsed) -> dict[str, str]:
        """What the opening message already says ("my user name is ada.example ...")."""
        text = parsed.text
        found: dict[str, str] = {}
        user_name, email = facts.find_user_name(text), facts.find_email(text)
        if form == "password_form" and (user_name or email):
            found["account_identifier"] = user_name or email  # type: ignore[assignment]
        if form == "username_form" and email:
            found["email"] = email
        name = facts.find_full_name(text)
        if name:
            found["first_name"], found["last_name"] = name
        birth_date = facts.find_birth_date(text)
        if birth_date:
            found["birth_date"] = birth_date
        return found

    def request_facts(self, kind_id: str, parsed: Parsed) -> dict[str, str]:
        found: dict[str, str] = {}
        if kind_id == "transfer_account":
            old, new = facts.find_move(parsed.text, match_district)
            if old and new and old != new:
                found.update(old_district=old, new_district=new)
        if kind_id == "ticket_status":
            reference = facts.find_reference(parsed.text)
            if reference:
                found["reference"] = reference
        return found

    def district_in(self, parsed: Parsed) -> str | None:
        """The one district a message names confidently: a district entity, or in a question
        about administrators the place it asks about ("... for hudson right now?", "for
        cambrige schools"), which the entity ruler leaves alone when the name is also a
        common word or misspelt."""
        names = {match_district(value).name for value in parsed.values("district")}
        names.discard(None)
        if names:
            return names.pop() if len(names) == 1 else None
        place = facts.place_asked_about(parsed.text)
        if place and (reading.asks_who_the_admin_is(parsed.text) or
                      parsed.intent == FIND_ADMIN):
            return match_district(place).name
        return None

    # ------------------------------------------------------------------ helpers
    def _said_system(self, parsed: Parsed) -> str | None:
        """The one system the message names; of two, the one whose password or user name it
        is about ("my massone username, like you do for ELAR")."""
        said = affirmed_systems(parsed.text, list(parsed.entities), self.kb)
        if len(said) == 1:
            return said.pop()
        found = reading.forgotten(parsed.text) if said else None
        if found and found[1]:
            owner = chosen_system(found[1], [], self.kb)
            return owner if owner in said else None
        return None

    def system_buttons(self) -> list[dict[str, str]]:
        import json

        return [
            {"title": title, "payload": "/choose_system" + json.dumps({"system": system})}
            for system, title in self.kb.replies["system_buttons"].items()
        ]

    @staticmethod
    def solved_buttons() -> list[dict[str, str]]:
        return [
            {"title": "Yes, that solved it", "payload": "/affirm"},
            {"title": "No, I still need help", "payload": "/deny"},
        ]

    def menu_buttons(self) -> list[dict[str, str]]:
        return [{"title": title, "payload": f"/{intent}"}
                for intent, title in self.kb.replies["menu_buttons"].items()]

    def login_buttons(self) -> list[dict[str, str]]:
        return [{"title": title, "payload": f"/{intent}"}
                for intent, title in self.kb.replies["login_buttons"].items()]


_FOLLOW_UP_WORDS = frozenset(
    "what about also same then there that this those with does same steps please thanks "
    "okay".split()
)


def _as_parse(parsed: Parsed) -> dict:
    return {
        "text": parsed.text,
        "intent": {"name": parsed.intent, "confidence": parsed.confidence},
        "entities": list(parsed.entities),
    }
