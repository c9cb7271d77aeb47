"""The Massachusetts public school districts (`knowledge/districts.csv`), matched however typed.

`match_district` resolves what someone types for "which district?" to the canonical name, or
suggests the nearest names. `district_patterns` gives spaCy entity-ruler patterns that find a
district in a sentence without mistaking a first name or a common word for one.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.knowledge.entries import KNOWLEDGE_DIR

DISTRICTS_FILE = KNOWLEDGE_DIR / "districts.csv"
MAX_TEXT = 120
MAX_SUGGESTIONS = 5
CONFIDENT_RATIO = 0.85  # difflib ratio of the best candidate ...
CONFIDENT_MARGIN = 0.05  # ... and its lead over the next district
SUGGEST_RATIO = 0.6
MIN_FUZZY_LENGTH = 4  # shorter text is only ever matched exactly

# Words around a district's name that do not tell districts apart, removed from both the text
# and the names before comparing ("Worcester Public Schools", "the Acton-Boxborough RSD").
_TRAILING = frozenset(
    "public schools school district districts regional reg region ps rsd sd rvt rvts rvths "
    "vocational voc technical tech agricultural and high department system unified "
    "ma mass massachusetts".split()
)
_LEADING = frozenset("the city town of in at from its it is my our district school".split())
_ABBREVIATIONS = {"mt": "mount", "e": "east", "w": "west", "n": "north", "s": "south"}
# Words of the systems' names and agency acronyms: text made only of these is never a
# district, nor close to one ("Mass", "ESE", "ELAR", "MassONE", "the ESE portal").
_SYSTEM_WORDS = frozenset("mass massone one ese dese doe elar security portal".split())
# Words telling neighbouring places apart: a typo never turns East into West Springfield.
_QUALIFIERS = frozenset(
    "north south east west new old upper greater central southern northern".split()
)
# Name parts too vague to stand for one district on their own ("Up-Island", "Tri-County").
_GENERIC = _QUALIFIERS | frozenset(
    "up island tri county valley hills lake shore trail mount c".split()
)

# Other names people use for a district: former names, school names, short forms.
ALIASES: dict[str, tuple[str, ...]] = {
    "Hoosac Valley Regional": ("Adams-Cheshire",),
    "Mount Greylock": ("Mt Greylock", "Mt. Greylock"),
    "Ralph C Mahar": ("Ralph C. Mahar", "Mahar"),
    "Northampton-Smith Vocational Agricultural": ("Smith Vocational",),
    "Southern Worcester County Regional Vocational School District": (
        "Bay Path Regional Vocational Technical",
    ),
    "Bristol County Agricultural": ("Bristol Aggie",),
    "Norfolk County Agricultural": ("Norfolk Aggie",),
    "Northeast Metropolitan Regional Vocational Technical": ("Northeast Metro Tech",),
    "Spencer-East Brookfield": ("Spencer-E Brookfield",),
}

# Entity patterns. A name that is also a first name, a surname, a common word or a well-known
# place elsewhere is only found with a school word after it ("Sharon Public Schools", never
# "my name is Sharon"): missing a district costs one question, a wrong one goes unnoticed.
AMBIGUOUS_TOWNS = frozenset(
    "auburn avon berkley beverly bourne brewster canton carlisle carver chelsea clinton concord "
    "conway dartmouth douglas dover everett florida franklin gardner georgetown grafton hadley "
    "halifax hancock harvard hatfield holbrook holland hudson hull kingston lawrence lee lenox "
    "lincoln lynn mansfield marion maynard middleton millis milton needham newton norfolk norton "
    "norwood orange orleans oxford palmer peabody quincy randolph reading revere richmond "
    "rochester rowe sandwich sharon sutton swansea wakefield wales walpole ware webster "
    "wellesley weston williamsburg winchester winthrop worthington".split()
)
AMBIGUOUS_REGIONALS = frozenset(
    {"berkshire hills", "frontier", "gateway", "hampshire", "king philip", "marthas vineyard",
     "mohawk trail", "mount greylock", "narragansett", "pioneer valley", "silver lake",
     "southern berkshire", "triton", "up island"}
)
PUBLIC_WORDS = ("public schools", "public school district", "school district", "schools",
                "district", "ps")
REGIONAL_WORDS = ("regional", "regional school district", "regional schools",
                  "regional high school")
# Vocational districts are always named with one of these ("Cape Cod Tech", not "Cape Cod").
VOCATIONAL_WORDS = ("regional vocational technical", "regional vocational technical high school",
                    "regional vocational", "regional technical", "regional technical high school",
                    "vocational technical", "vocational", "voc tech", "voc", "technical",
                    "technical high school", "tech", "rvt", "agricultural", "aggie",
                    "regional vocational school district")
_VOCATIONAL = re.compile(r"\b(Vocational|Technical|Agricultural)\b")


@dataclass(frozen=True)
class DistrictMatch:
    """`name` when the match is confident; otherwise up to 5 `suggestions` (maybe none)."""

    name: str | None
    suggestions: tuple[str, ...] = ()


def load_districts(path: Path = DISTRICTS_FILE) -> tuple[str, ...]:
    """The canonical district names, in file order."""
    return _load(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: Path, _mtime: int) -> tuple[str, ...]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames != ["name"]:
            raise ValueError(f"{path}: the header must be 'name'")
        names = tuple(row["name"].strip() for row in reader if (row["name"] or "").strip())
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: a district is listed twice")
    return names


def _tokens(text: str) -> list[str]:
    """Lower-case words: accents, apostrophes and punctuation dropped, -borough as -boro."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = text.replace("'", "").replace("&", " and ")
    words = [_ABBREVIATIONS.get(word, word) for word in re.findall(r"[a-z0-9]+", text)]
    return [re.sub(r"borough$", "boro", word) for word in words if not word.isdigit()]


def _core(words: list[str]) -> list[str]:
    """The words without the generic ones around them."""
    start, end = 0, len(words)
    while start < end and words[start] in _LEADING:
        start += 1
    while end > start and words[end - 1] in _TRAILING:
        end -= 1
    return words[start:end]


def normalise(text: str) -> str:
    """The comparable form: "The Acton-Boxborough Regional School District" -> "acton boxboro"."""
    return " ".join(_core(_tokens(text)))


@dataclass(frozen=True)
class _Index:
    exact: dict[str, str]  # normalised name, alias or compact form -> canonical name
    parts: dict[str, str]  # a member town of exactly one hyphenated district -> the district
    targets: tuple[tuple[str, str], ...]  # (normalised text, canonical) for fuzzy matching
    words: dict[str, frozenset[str]]  # canonical -> the words of its normalised names


def _written(name: str) -> tuple[str, ...]:
    return (name, *ALIASES.get(name, ()))


@lru_cache(maxsize=4)
def _index(districts: tuple[str, ...]) -> _Index:
    exact: dict[str, str] = {}
    targets: list[tuple[str, str]] = []
    for name in districts:
        for text in _written(name):
            key = normalise(text)
            if not key:
                raise ValueError(f"district {name!r}: {text!r} has no distinctive word")
            for form in (key, key.replace(" ", "")):
                if exact.setdefault(form, name) != name:
                    raise ValueError(f"districts {exact[form]!r} and {name!r} look the same")
            targets.append((key, name))
    words: dict[str, set[str]] = {}
    owners: dict[str, set[str]] = {}
    for key, name in targets:
        for word in key.split():
            words.setdefault(name, set()).add(word)
            owners.setdefault(word, set()).add(name)
    parts: dict[str, str] = {}
    for name in districts:
        for text in (text for text in _written(name) if "-" in text):
            for part in (normalise(piece) for piece in text.split("-")):
                part_words = part.split()
                if (part_words and part not in exact and not set(part_words) <= _GENERIC
                        and all(owners.get(word) == {name} for word in part_words)):
                    parts[part] = name
    targets += parts.items()
    return _Index(exact, parts, tuple(targets),
                  {name: frozenset(found) for name, found in words.items()})


def match_district(text: str, districts: tuple[str, ...] | None = None) -> DistrictMatch:
    """The district `text` names, or suggestions when it is not clear which.

    Both `text` and the names are normalised: case, accents and punctuation ignored,
    "-borough" = "-boro", "Mt" = "Mount", and surrounding words such as "the", "public schools",
    "regional school district", "RSD", "vocational technical", "MA" removed. Then, in order:

    1. the normalised text equals a normalised name or alias, spaces ignored -> that district;
    2. it is one member town of a hyphenated regional district, named in no other district
       ("Yarmouth" -> Dennis-Yarmouth) -> that district;
    3. fuzzy (difflib ratio): with at least 4 letters, the best district scores 0.85 or more,
       leads the next district by 0.05 or more, and has the same North/South/East/West/New...
       words as the text -> that district ("worcster" -> Worcester, but "East Springfeld" is
       not West Springfield).

    Otherwise `name` is None and `suggestions` lists up to 5 districts sharing a word with the
    text or scoring 0.6 or more, best first. More than 120 characters, no letters, or a system
    name ("Mass", "ESE", "ELAR") give neither a name nor suggestions.
    """
    if len(text) > MAX_TEXT or not re.search(r"[^\W\d_]", text):
        return DistrictMatch(None)
    key = normalise(text)
    if set(key.split()) <= _SYSTEM_WORDS:
        return DistrictMatch(None)
    index = _index(tuple(districts) if districts is not None else load_districts())
    found = index.exact.get(key) or index.exact.get(key.replace(" ", "")) or index.parts.get(key)
    if found:
        return DistrictMatch(found)
    best: dict[str, float] = {}
    matcher = difflib.SequenceMatcher(b=key, autojunk=False)
    for target, name in index.targets:
        matcher.set_seq1(target)
        best[name] = max(best.get(name, 0.0), matcher.ratio())
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    (first, score), second = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
    qualifiers = set(key.split()) & _QUALIFIERS
    if (len(key) >= MIN_FUZZY_LENGTH and score >= CONFIDENT_RATIO
            and score - second >= CONFIDENT_MARGIN
            and qualifiers == index.words[first] & _QUALIFIERS):
        return DistrictMatch(first)
    words = set(key.split()) - _GENERIC
    sharing = [name for name, _ in ranked if words & index.words[name]]
    similar = [name for name, ratio in ranked if ratio >= SUGGEST_RATIO]
    suggestions = tuple(dict.fromkeys([*sharing, *similar]))[:MAX_SUGGESTIONS]
    return DistrictMatch(None, suggestions)


def _is_vocational(name: str) -> bool:
    return bool(_VOCATIONAL.search(name))


def _spellings(text: str) -> set[str]:
    """`text` with and without hyphens and apostrophes, and with -boro or -borough."""
    spellings = {text, text.replace("-", " "), text.replace("'", ""), text.replace("'", "\u2019")}
    for spelling in list(spellings):
        spellings.add(re.sub(r"borough\b", "boro", spelling))
        spellings.add(re.sub(r"boro\b", "borough", spelling))
    return spellings


def _stems(name: str) -> tuple[set[str], set[str]]:
    """How a district is written: (complete names, short names needing or taking a school word).

    Complete names end with a school word of their own ("Up-Island Regional", "Norfolk Aggie");
    short names are them without it ("Up-Island", "Assabet Valley", "Sharon").
    """
    complete: set[str] = set()
    short: set[str] = set()
    for text in _written(name):
        words = text.split()
        while len(words) > 1 and (normalise(words[-1]) == "" or words[-1].lower() == "aggie"):
            words.pop()
        if len(words) < len(text.split()):
            complete |= _spellings(text)
        short |= _spellings(" ".join(words))
    return complete, short


def _school_words(name: str, short: str) -> tuple[tuple[str, ...], bool]:
    """The school words that may follow a short name, and whether it may also stand alone."""
    if _is_vocational(name):
        return VOCATIONAL_WORDS, False
    key = normalise(short)
    if key in AMBIGUOUS_TOWNS:
        return PUBLIC_WORDS, False
    if key in AMBIGUOUS_REGIONALS:
        return REGIONAL_WORDS, False
    return PUBLIC_WORDS + REGIONAL_WORDS, True


def district_patterns(districts: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """spaCy entity-ruler token patterns, label "district", id the canonical name.

    Complete names match alone. A short name matches followed by a school word ("Worcester
    Public Schools", "Nashoba Regional", "Cape Cod Tech") and alone too, except for vocational
    districts and ambiguous names (AMBIGUOUS_TOWNS, AMBIGUOUS_REGIONALS): "Sharon" or
    "Gateway" alone is never a district, "Sharon Public Schools" is.
    """
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    patterns: list[dict[str, object]] = []
    for name in districts if districts is not None else load_districts():
        complete, short = _stems(name)
        texts = sorted(complete)
        for stem in sorted(short):
            school_words, alone = _school_words(name, stem)
            texts += ([stem] if alone else []) + [f"{stem} {words}" for words in school_words]
        seen: set[tuple[str, ...]] = set()
        for text in texts:
            tokens = tuple(token.lower_ for token in tokenizer(text))
            if tokens not in seen:
                seen.add(tokens)
                patterns.append({"label": "district",
                                 "pattern": [{"LOWER": token} for token in tokens],
                                 "id": name})
    return patterns
