"""Reading a short reply in the light of the question the bot just asked.

The NLU model classifies a message on its own; these readers look at the words people use to
answer a question ("nope still says incorrect" is a no, "the first one" a choice, "never mind"
a stop, "no clue" an "I don't know"). Each one is deliberately small, lexical and tested: they
decide only where the question makes the reading unambiguous.
"""

from __future__ import annotations

import re
import unicodedata

YES, NO = "yes", "no"

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept ("don't"), curly ones folded."""
    folded = unicodedata.normalize("NFKC", text or "").replace("\u2019", "'").lower()
    return _WORD.findall(folded)


def contains(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether the words of `text` (lower case, apostrophes folded) match `pattern`."""
    return bool(pattern.search(" ".join(words(text))))


# ---------------------------------------------------------------------------- yes / no
_NEGATIONS = frozenset(
    "no noo nooo nope nah nuh n not never nothing none neither nor negative still cant wont isnt "
    "doesnt didnt dont wasnt aint cannot can't won't isn't doesn't didn't don't wasn't haven't "
    "hasn't couldn't wouldn't".split()
)
_NEGATIVE_WORDS = frozenset("same incorrect wrong fails failed failing error again locked".split())
_POSITIVE_WORDS = frozenset(
    "y yes yess yesss ye yeah yea yep yup ya mhm mhmm sure ok okay k kk correct right perfect "
    "great worked works working fixed solved sorted good fine awesome thanks thank thx ty tysm "
    "absolutely definitely send submit".split()
)
# Phrases that settle it whatever else the message says.
_YES_PHRASES = re.compile(
    r"\b(no problem|not anymore|no longer|i'?m in|i got in|i'?m logged in|it let me in|"
    r"all good|looks good|looks right|that was it|that did it|that worked|that fixed it|"
    r"go ahead|please do|of course)\b"
)
_NO_PHRASES = re.compile(r"\b(no thanks?|no thank you|not really|not quite|didn'?t help)\b")


def polarity(text: str, intent: str | None = None) -> str | None:
    """YES, NO or None: how a reply to a yes/no question reads, words first, intent second.

    A positive word right after a negation counts as negative ("not working", "didn't work").
    """
    found = words(text)
    joined = " ".join(found)
    if _NO_PHRASES.search(joined):
        return NO
    if _YES_PHRASES.search(joined):
        return YES
    negative = positive = False
    for index, word in enumerate(found):
        negated = any(w in _NEGATIONS for w in found[max(0, index - 2):index])
        if word in _NEGATIONS or word in _NEGATIVE_WORDS:
            negative = True
        elif word in _POSITIVE_WORDS or word in ("work", "help", "helped"):
            if negated:
                negative = True
            elif word in _POSITIVE_WORDS:
                positive = True
    if negative != positive:
        return NO if negative else YES
    if intent in ("affirm", "thank"):
        return YES
    if intent == "deny":
        return NO
    return None


# ---------------------------------------------------------------------------- stop
_STOP = re.compile(
    r"\b(stop|cancel|quit|exit|abort|nevermind|never mind|nvm|forget it|forget about it|"
    r"forget that|scratch that|not now|later|another time|gtg|got to go|gotta go|"
    r"no thanks|no thank you|i'?ll do it myself|i'?ll (?:just )?(?:call|email|e-mail|ask|"
    r"contact|write|phone)|i'?ll finish|i'?ll try later|don'?t bother|leave it)\b"
)


def is_stop(text: str) -> bool:
    """The message asks to leave what is going on ("stop", "never mind, I'll call them")."""
    return contains(text, _STOP)


# ---------------------------------------------------------------------------- I don't know
_DONT_KNOW = re.compile(
    r"\b(i? ?(?:do ?n'?t|dont|do not) (?:know|remember|recall|have)|idk|dunno|"
    r"no idea|no clue|not sure|unsure|can'?t remember|cannot remember|can'?t recall|"
    r"forgot (?:it|that|which)|no (?:i )?don'?t|i have no|not a clue|haven'?t a clue|"
    r"let me (?:find|check|look)|hold on|one (?:sec|second|moment|minute)|give me a (?:sec|"
    r"second|minute|moment)|just a (?:sec|second|minute|moment)|wait a (?:sec|second|minute))\b"
)
_FIND_OUT = re.compile(
    r"\b(let me (?:find|check|look)|hold on|one (?:sec|second|moment|minute)|give me a|just a "
    r"(?:sec|second|minute|moment)|wait a (?:sec|second|minute))\b"
)


def says_dont_know(text: str) -> bool:
    """"I don't know", "no clue", "not sure which", or "hold on, let me find it"."""
    return contains(text, _DONT_KNOW)


def before_dont_know(text: str) -> str:
    """What a message says before its "I don't know" ("Jess Whitaker idk my username" ->
    "Jess Whitaker"); empty when it starts with it."""
    folded = unicodedata.normalize("NFKC", text or "").replace("\u2019", "'")
    match = _DONT_KNOW.search(folded.lower())
    return folded[:match.start()].strip(" ,.;-") if match else ""


def asks_for_time(text: str) -> bool:
    """"hold on, let me find it": the answer is coming, no help needed."""
    return contains(text, _FIND_OUT)


# ---------------------------------------------------------------------------- questions
_QUESTION_START = re.compile(
    r"^(?:(?:wait|hang on|hold on|sorry|ok|okay|um+|hmm+|quick question|btw|also|and|but|oh|"
    r"actually)[ ,.!]+)*(?:what|whats|what's|which|who|whos|who's|where|when|why|how|is|are|"
    r"can|could|do|does|did|will|would|should|shall|may|am)\b"
)


def is_question(text: str) -> bool:
    """A question mark, or a question word at the start ("wait, what's a directory admin")."""
    if "?" in (text or ""):
        return True
    return bool(_QUESTION_START.search(" ".join(words(text))))


# ---------------------------------------------------------------------------- corrections
_CORRECTION = re.compile(
    r"\b(wrong|mistake|typo|misspel+ed|spelled it wrong|spelt|meant|actually|correction|"
    r"should be|should have been|not right|incorrect|fix|change|oops|sorry)\b"
)


def is_correction(text: str) -> bool:
    return contains(text, _CORRECTION)


# ---------------------------------------------------------------------------- retries
_AGAIN = re.compile(
    r"\b(again|resend|re-send|redo|re-do|another|one more time|retry|over|instead)\b"
)


def asks_again(text: str) -> bool:
    """"send it again", "can I redo it", "start over", "reset my ELAR one instead"."""
    return contains(text, _AGAIN)


_OTHER = re.compile(r"\b(the other(?: one)?|other system|other account|other login|the second)\b")


def means_the_other(text: str) -> bool:
    """"now the other one": the system not yet dealt with."""
    return contains(text, _OTHER)


# ---------------------------------------------------------------------------- follow-ups
_LEANING_OPENER = re.compile(
    r"^(?:ok(?:ay)?\s+|so\s+)?(?:and\s+)?(?:what|how)\s+about\b|^(?:and|same)\s+(?:for|in|with|on)\b"
)


def is_elliptical(text: str, limit: int = 7) -> bool:
    """A short follow-up that leans on the last answer ("and for massone?", "what about
    worcester", "same in ELAR?")."""
    found = words(text)
    if found and len(found) <= 2 * limit and _LEANING_OPENER.search(" ".join(found)):
        return True
    # "thanks! and for somerville? my wife works there": the follow-up is one sentence of it
    sentences = [words(part) for part in re.split(r"[.?!;]+", text or "")]
    if len([part for part in sentences if part]) > 1 and any(
            part and len(part) <= limit and _LEANING_OPENER.search(" ".join(part))
            for part in sentences):
        return True
    if not found or len(found) > limit:
        return False
    opener = found[0] in ("and", "what", "how", "same", "also", "ok", "okay", "so", "then")
    return opener or found[-1] in ("too", "then", "also")


# ---------------------------------------------------------------------------- what was forgotten
_KEY_WORDS = {
    "password": "password", "passwords": "password", "pw": "password", "pwd": "password",
    "pass": "password", "passcode": "password", "username": "username", "usernames": "username",
    "userid": "username", "forgot": "forgot", "forget": "forgot", "forgotten": "forgot",
    "4got": "forgot", "4get": "forgot", "4gotten": "forgot",
}
_FORGETTING = re.compile(
    r"\b(?:forgot|lost|reset|recover|retrieve|misplaced|need (?:a )?new|need my|get my|"
    r"send (?:me )?(?:my|the)|no longer (?:have|know)|"
    r"(?:can'?t|cannot|don'?t|dont|do not) (?:remember|recall|know|find)|no idea what|"
    r"what'?s|what is|what was)\s+(?:what\s+)?(?:my|the|our|a|an)?\s*"
    r"(?P<qualifier>(?:[a-z0-9.']+\s+){0,2}?)"
    r"(?P<item>password|username|user name|user id|login name|login id)\b"
)


def _normal_word(word: str) -> str:
    """A key word however it is misspelt ("pasword", "usrname", "forgt")."""
    if word in _KEY_WORDS:
        return _KEY_WORDS[word]
    if len(word) >= 5:
        import difflib

        close = difflib.get_close_matches(word, ["password", "username", "forgotten"], 1, 0.8)
        if close:
            return _KEY_WORDS.get(close[0], close[0])
    if len(word) >= 4:
        import difflib

        close = difflib.get_close_matches(word, ["forgot", "forget"], 1, 0.8)
        if close:
            return "forgot"
    return word


# The item first, what happened to it after: "could my MassONE password get reset?", "my
# password seems to have vanished", "my ELAR password is gone from my head".
_GONE = re.compile(
    r"\b(?P<qualifier>(?:[a-z0-9.']+\s+){0,2}?)(?P<item>password|username|user name)\b"
    r"(?:\s+\S+){0,4}?\s+(?:get|be|been|got)?\s*(?:reset|vanished|disappeared|gone|lost|"
    r"expired|missing)\b"
)


def forgotten(text: str) -> tuple[str, str] | None:
    """What the message says was forgotten or lost, "forgot_password" or "forgot_username",
    and the words naming whose ("massone" in "forgot my massone password"); None if it does
    not say ("my user name is x and I forgot my password" -> the password)."""
    normal = " ".join(_normal_word(word) for word in words(text))
    match = _FORGETTING.search(normal) or _GONE.search(normal)
    if match is None:
        return None
    item = "forgot_password" if match.group("item") == "password" else "forgot_username"
    return item, match.group("qualifier").strip()


def forgotten_item(text: str) -> str | None:
    found = forgotten(text)
    return found[0] if found else None


# ---------------------------------------------------------------------------- mail not received
_NOT_RECEIVED = re.compile(
    r"\b((?:never|didn'?t|did not|hasn'?t|has not|haven'?t|have not|not|still not|isn'?t)\s+"
    r"(?:\w+\s+)?(?:come|came|arrive|arrived|get|got|gotten|received|receive|showed|show|"
    r"shown|there|in my inbox)|nothing (?:came|arrived|yet|showed)|no (?:e ?mail|email|link|"
    r"message|mail) (?:yet|came|arrived))\b"
)


def says_not_received(text: str) -> bool:
    """"it never came", "I didn't get the email", "nothing arrived"."""
    return contains(text, _NOT_RECEIVED)


# ---------------------------------------------------------------------------- a person, please
_PERSON = re.compile(
    r"\b((?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|some|any)?\s*(?:one|body|person|human|"
    r"agent|someone|somebody|staff|real|actual|live|people)|someone real|a real person|"
    r"real human|actual person|a human|live agent|human being|get me (?:a|someone|somebody)|"
    r"(?:need|want|like)\s+(?:to\s+(?:talk|speak)\s+to\s+)?(?:a|an)\s+(?:person|human|agent)|"
    r"(?:talk|speak|chat)\s+(?:to|with)\s+(?:the\s+)?help\s*desk|"
    # with words between: "talk this through with a person", "go over it with a real human"
    r"(?:talk|speak|chat|go over|discuss)(?:\s+[a-z']+){1,3}\s+with\s+(?:a|an|some)?\s*"
    r"(?:real\s+|actual\s+|live\s+)?(?:person|human|agent|somebody|someone))\b"
)


_WHO_AM_I_TALKING_TO = re.compile(r"^(?:is (?:this|that|it)|are you|am i (?:talking|chatting))\b")


def asks_for_person(text: str) -> bool:
    """"can I talk to someone?", "get me a real human": whatever else the message says (but
    "is this a real person?" asks about the bot)."""
    return contains(text, _PERSON) and not contains(text, _WHO_AM_I_TALKING_TO)


_ABOUT_THE_BOT = re.compile(
    r"^(?:is (?:this|that|it)|are you|am i (?:talking|chatting|texting|speaking|writing))\b.*"
    r"\b(?:bot|robot|machine|computer|ai|chatgpt|automated|automatic|human|real|person|people|"
    r"staff|someone|somebody)\b"
)
_GREETING = re.compile(
    r"^(?:hi+|hello|hey+|hiya|howdy|sup|wassup|yo|greetings|good (?:morning|afternoon|evening))\b"
)


def asks_if_bot(text: str) -> bool:
    """"is this chatgpt or something", "am I texting a real person?": a question about the bot."""
    return contains(text, _ABOUT_THE_BOT)


def greets(text: str) -> bool:
    """"hi, this is Mrs. Patel from the front office": a greeting that asks nothing yet."""
    return contains(text, _GREETING) and not is_question(text)


# Asking who the administrator is, not reporting that one was mentioned: "need our directory
# admin" opens a sentence; "it says to contact my directory administrator" is a story.
_ASKS_FOR_ADMIN = re.compile(
    r"\bwho(?:'?s)?\b.*\badmin(?:istrator)?s?\b|^(?:i\s+)?(?:need|find)\s+(?:our|my|the)\s+"
    r"(?:district'?s?\s+|school'?s?\s+)?(?:directory\s+)?admin(?:istrator)?\b"
)
# Systems people also get locked out of that are not ours: their own help desk, not this one.
_OTHER_SYSTEMS = re.compile(
    r"\b(?:outlook|gmail|hotmail|yahoo|google (?:classroom|drive|docs|account|meet)|"
    r"canvas|schoology|powerschool|aspen|x2|infinite campus|clever|seesaw|zoom|teams|"
    r"office 365|microsoft|windows|chromebook|ipad|laptop|wifi|wi fi|school e ?mail|"
    r"work e ?mail|payroll|rmv|facebook|instagram|netflix|bank)\b"
)


def asks_who_the_admin_is(text: str) -> bool:
    """"who is the massone admin?", "...MDCS? need our directory admin"; not "it says to
    contact my directory administrator"."""
    return any(_ASKS_FOR_ADMIN.search(" ".join(words(sentence)))
               for sentence in re.split(r"[.?!;]+", text or ""))


_LOGIN_REJECTED = re.compile(
    r"\b(?:invalid|incorrect|wrong|failed|bad)\s+(?:login|log in|password|user ?name|credentials)|"
    r"\b(?:login|log in|password|user ?name|it|portal|site|page|screen|system)\s+"
    r"(?:keeps\s+|still\s+|just\s+)?(?:says?|saying)\s+"
    r"(?:it'?s\s+|that\s+it'?s\s+)?(?:invalid|incorrect|wrong|not valid)|"
    r"\b(?:login|log in|password|user ?name|credentials)\s+(?:is\s+|are\s+)?(?:invalid|incorrect|"
    r"wrong|failed|not valid|not recognized|rejected)|"
    r"\bwon'?t (?:take|accept) my (?:old |new )?(?:login|password|user ?name|credentials)"
)


def says_login_rejected(text: str) -> bool:
    """"the portal says invalid login", "it won't take my password": the login is refused."""
    return contains(text, _LOGIN_REJECTED)


_ASKS_FOR_HELP = re.compile(
    r"^(?:(?:hi|hello|hey|please|pls|ok|so|um+)\s+)*(?:i\s+)?(?:need\s+|want\s+|could use\s+)?"
    r"(?:some\s+|your\s+|a\s+little\s+)?help(?:\s+(?:me|please|pls|needed|out|here|with\s+"
    r"(?:something|this|that)))*$|"
    r"\bwhat\s+(?:kinds?\s+of\s+things|sorts?\s+of\s+things|can\s+you\s+do|do\s+you\s+do)|"
    r"\bhow\s+(?:can|do)\s+you\s+help\b|\b(?:anybody|anyone|somebody|someone)\s+"
    r"(?:able\s+to|there\s+to|who\s+can|can)\s+help\b|\b(?:can|could)\s+(?:you|u|anyone)\s+help"
    r"(?:\s+me)?(?:\s+out)?(?:\s+please)?$"
)


def asks_for_help(text: str) -> bool:
    """"help", "i need help", "what kinds of things can you help with", "anybody able to
    help?": what the bot can do, not a problem yet."""
    return contains(text, _ASKS_FOR_HELP)


_LAPSED = re.compile(
    r"\b(?:sabbatical|(?:on|a|maternity|paternity|medical|long|parental) leave|"
    r"(?:haven'?t|hadn'?t|didn'?t|not) (?:used|touched|logged (?:in|into|on))(?:\s+\S+){0,4}?\s+"
    r"(?:in|for|since)\s+(?:a\s+|over\s+|about\s+)?(?:while|long|ages|years?|months?|\d+|two|"
    r"three|several)|"
    r"(?:nobody|no one|not) (?:uses?|using)|unused|inactive|deactivated|dormant|"
    r"(?:shut|turned|switched|closed) (?:it |them |accounts? )?(?:off|down)|"
    r"(?:shut|turn|switch|close)s? off|disabled|"
    r"(?:a|one|two|\d+|few|couple of) (?:years?|school years?) (?:ago|away|off))\b"
)


def says_account_lapsed(text: str) -> bool:
    """"back from a sabbatical", "I haven't used it in two years", "they shut off accounts
    nobody uses": an account that may have been deactivated for lack of use."""
    return contains(text, _LAPSED)


_COMPARING = re.compile(r"\b(same|separate|separately|different|too|as well|shared?)\b")


def compares(text: str) -> bool:
    """"is my ELAR password the same as MassONE's?", "do I reset it separately?"."""
    return contains(text, _COMPARING)


def names_other_system(text: str) -> bool:
    """"my school outlook email", "google classroom": a system that is not one of ours."""
    return contains(text.replace("-", " "), _OTHER_SYSTEMS)


_THANKS = re.compile(r"\b(thanks?|thank you|thx|ty|tysm|cheers|appreciate it)\b")
_BYE = re.compile(r"\b(bye|goodbye|good bye|see ya|later|until next time|take care)\b")


_WILL_CONTACT = re.compile(
    r"\b(?:i'?ll|i will|gonna|going to)\s+(?:just\s+)?(?:email|e mail|call|phone|contact|write"
    r"(?:\s+to)?|ask|reach out to|talk to|try)\b"
)


def will_contact_them(text: str) -> bool:
    """"ok I'll email loginhelp then": the person will take it from here."""
    return contains(text, _WILL_CONTACT)


def closing(text: str) -> str | None:
    """"ok I'll email them then, thank you": "thank" or "goodbye" for a message that closes the
    conversation politely rather than asking something; None otherwise."""
    if is_question(text):
        return None
    if contains(text, _BYE):
        return "goodbye"
    if contains(text, _THANKS):
        return "thank"
    return None
