"""The Massachusetts public school districts (`knowledge/districts.csv`), matched however typed.

`match_district` resolves what someone types for "which district?" to the canonical name, or
suggests the nearest names. Besides the districts' own names it takes the member towns of
regional districts (`knowledge/district_towns.csv`: "Holden" is Wachusett), common
abbreviations ("BPS", "ABRSD") and school names that start with a place ("Newton North High
School"). `district_patterns` gives spaCy entity-ruler patterns that find a district in a
sentence without mistaking a first name or a common word for one.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.knowledge.entries import KNOWLEDGE_DIR

DISTRICTS_FILE = KNOWLEDGE_DIR / "districts.csv"
TOWNS_FILE = KNOWLEDGE_DIR / "district_towns.csv"
MAX_TEXT = 120
MAX_SUGGESTIONS = 5
CONFIDENT_RATIO = 0.85  # difflib ratio of the best candidate ...
CONFIDENT_MARGIN = 0.05  # ... and its lead over the next district
SUGGEST_RATIO = 0.6
MIN_FUZZY_LENGTH = 4  # shorter text is only ever matched exactly
# Why a match has no name (DistrictMatch.reason).
SEVERAL = "several"  # a place in more than one district: the suggestions are its districts
SCHOOL = "school"  # a school's name that does not say which district it is in

# Words around a district's name that do not tell districts apart, removed from both the text
# and the names before comparing ("Worcester Public Schools", "the Acton-Boxborough RSD").
_TRAILING = frozenset(
    "public schools school district districts regional reg region ps rsd sd rvt rvts rvths "
    "vocational voc technical tech agricultural and high department system unified "
    "ma mass massachusetts".split()
)
_LEADING = frozenset("the city town of in at from for its it is my our district school".split())
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
# A place's name followed only by these is one of its schools ("Newton North High School",
# "Boston Latin School"); at least one of _SCHOOL_WORDS must be there. "Academy", "charter",
# "college" or a person's name after the place make it someone else's school: no guess.
_SCHOOL_WORDS = frozenset(
    "school schools high middle elementary primary intermediate kindergarten preschool hs ms"
    .split()
)
_SCHOOL_NAME_WORDS = _SCHOOL_WORDS | _QUALIFIERS | frozenset(
    "latin technical tech vocational regional junior senior jr sr lower public".split()
)
_SCHOOL_LIKE = _SCHOOL_WORDS | frozenset("academy charter".split())
_HIGH_SCHOOL = frozenset({"high", "hs"})
# Words saying which of a town's districts is meant: "Amherst Public Schools" is Amherst's own
# district, "Amherst Regional" the regional one.
_PUBLIC_MARKERS = frozenset({"public", "ps", "psd"})
_REGIONAL_MARKERS = frozenset({"regional", "reg", "region", "rsd", "rhs"})
_VOCATIONAL_MARKERS = frozenset(
    "vocational voc technical tech agricultural aggie rvt rvts rvths".split()
)

# Other names people use for a district: former names, school names, short forms.
ALIASES: dict[str, tuple[str, ...]] = {
    "Hoosac Valley Regional": ("Adams-Cheshire",),
    "Masconomet": ("Masco",),
    "Montachusett Regional Vocational Technical": ("Monty Tech",),
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
# City districts' abbreviations as used statewide. Only where one district is meant: "LPS"
# (Lowell, Lynn, Lawrence, Lexington...) or "CPS" stay unknown. Regional districts' "<initials>
# RSD" and "<initials> RHS" are made from their names (see `_acronyms`).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "Boston": ("BPS",),
    "Fall River": ("FRPS",),
    "Quincy": ("QPS",),
    "Springfield": ("SPS",),
    "Worcester": ("WPS",),
}
_ACRONYM_SUFFIXES = ("rsd", "rhs")

# Entity patterns. A name that is also a first name, a surname, a common word or a well-known
# place elsewhere is only found with a school word after it ("Sharon Public Schools", never
# "my name is Sharon"): missing a district costs one question, a wrong one goes unnoticed.
AMBIGUOUS_TOWNS = frozenset(
    "auburn avon berkley beverly bourne brewster canton carlisle carver chelsea clinton concord "
    "conway dartmouth douglas dover everett florida franklin gardner georgetown grafton hadley "
    "halifax hancock harvard hatfield holbrook holland hudson hull kingston lawrence lee lenox "
    "lincoln lynn mansfield marion maynard middleton millis milton needham newton norfolk norton "
    "norwood orange oxford palmer peabody quincy randolph reading revere richmond "
    "rochester rowe sandwich sharon sutton swansea wakefield wales walpole ware webster "
    "wellesley weston williamsburg winchester winthrop worthington".split()
)
AMBIGUOUS_REGIONALS = frozenset(
    {"berkshire hills", "frontier", "gateway", "hampshire", "king philip", "marthas vineyard",
     "mohawk trail", "mount greylock", "narragansett", "pioneer valley", "silver lake",
     "southern berkshire", "triton", "up island"}
)
# Member towns (knowledge/district_towns.csv) that are common words or well-known places
# elsewhere: found in a sentence only with a school word ("Washington schools").
AMBIGUOUS_MEMBER_TOWNS = frozenset(
    "barre berlin bolton chatham chester freetown granville groton hamilton hinsdale huntington "
    "lancaster manchester monterey montgomery newbury northfield peru plainfield princeton "
    "rehoboth rutland salisbury sheffield shelburne sterling stow tolland warwick washington "
    "westminster windsor".split()
)
# Member towns named like people: found after "in" ("we're in Holden": one is not "in" a
# person) or with a school word, never alone ("my son Holden").
PERSON_NAMED_TOWNS = frozenset(
    "alford ashby ayer becket blackstone buckland charlton dalton dennis dudley gill hanson "
    "hardwick heath holden montague otis paxton rowley russell shirley spencer templeton "
    "townsend upton warren whitman".split()
)
# Schools are named after people who share these names anywhere ("Lincoln Elementary"): a
# school name starting with one names its place only as "... High School".
_NAMES_PEOPLE_SHARE = AMBIGUOUS_TOWNS | AMBIGUOUS_MEMBER_TOWNS | PERSON_NAMED_TOWNS
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
    """`name` when the match is confident; otherwise up to 5 `suggestions` (maybe none).

    `reason` says why there is no name when it is not simply unknown: SEVERAL (a town or
    abbreviation of more than one district, which the suggestions list) or SCHOOL (a school's
    name without its district).
    """

    name: str | None
    suggestions: tuple[str, ...] = ()
    reason: str | None = None


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


def load_district_towns(path: Path = TOWNS_FILE) -> tuple[tuple[str, str], ...]:
    """(town, district) pairs of the regional districts' member towns; '#' lines are comments.

    A town may be listed under several districts (an elementary and a regional one).
    """
    return _load_towns(path, path.stat().st_mtime_ns, load_districts())


@lru_cache(maxsize=4)
def _load_towns(
    path: Path, _mtime: int, districts: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(line for line in file if not line.startswith("#"))
        if reader.fieldnames != ["town", "district"]:
            raise ValueError(f"{path}: the header must be 'town,district'")
        rows = tuple((row["town"].strip(), row["district"].strip()) for row in reader)
    for town, district in rows:
        if not town or district not in districts:
            raise ValueError(f"{path}: {town!r} is in {district!r}, which is not in the list")
    if len(set(rows)) != len(rows):
        raise ValueError(f"{path}: a town is listed twice for the same district")
    return rows


def canonical_name(text: str, districts: tuple[str, ...] | None = None) -> str | None:
    """The district `text` spells exactly (case aside), as a button or the agency's list does."""
    wanted = " ".join(text.split()).casefold()
    for name in districts if districts is not None else load_districts():
        if name.casefold() == wanted:
            return name
    return None


def _tokens(text: str) -> list[str]:
    """Lower-case words: accents, apostrophes and punctuation dropped, -borough as -boro,
    dotted initials joined ("B.P.S." is "bps")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\b(?:[a-z]\.){2,}", lambda initials: initials[0].replace(".", ""), text)
    text = text.replace("'", "").replace("&", " and ")
    words = [_ABBREVIATIONS.get(word, word) for word in re.findall(r"[a-z0-9]+", text)]
    return [re.sub(r"borough$", "boro", word) for word in words if not word.isdigit()]


def _without_leading(words: list[str]) -> list[str]:
    start = 0
    while start < len(words) and words[start] in _LEADING:
        start += 1
    return words[start:]


def _core(words: list[str]) -> list[str]:
    """The words without the generic ones around them."""
    words = _without_leading(words)
    end = len(words)
    while end > 0 and words[end - 1] in _TRAILING:
        end -= 1
    return words[:end]


def normalise(text: str) -> str:
    """The comparable form: "The Acton-Boxborough Regional School District" -> "acton boxboro"."""
    return " ".join(_core(_tokens(text)))


@dataclass(frozen=True)
class _Index:
    exact: dict[str, str]  # normalised name, alias, abbreviation or compact form -> canonical
    places: dict[str, tuple[str, ...]]  # a member town (or compact form) -> its districts
    own: dict[str, str]  # a member town with a district of its own name -> that district
    regional: frozenset[str]  # the districts with member towns
    towns: dict[str, tuple[str, ...]]  # a member town -> how district_towns.csv writes it
    abbreviations: dict[str, str]  # abbreviation -> canonical
    targets: tuple[tuple[str, str], ...]  # (normalised text, canonical) for fuzzy matching
    words: dict[str, frozenset[str]]  # canonical -> the words of its names and member towns


def _written(name: str) -> tuple[str, ...]:
    return (name, *ALIASES.get(name, ()))


def _district_towns(districts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The member towns of the districts in `districts`."""
    listed = set(districts)
    return tuple(row for row in load_district_towns() if row[1] in listed)


@lru_cache(maxsize=4)
def _index(districts: tuple[str, ...], towns: tuple[tuple[str, str], ...]) -> _Index:
    exact: dict[str, str] = {}
    names: list[tuple[str, str]] = []  # (normalised name or alias, canonical)
    for name in districts:
        for text in _written(name):
            key = normalise(text)
            if not key:
                raise ValueError(f"district {name!r}: {text!r} has no distinctive word")
            for form in (key, key.replace(" ", "")):
                if exact.setdefault(form, name) != name:
                    raise ValueError(f"districts {exact[form]!r} and {name!r} look the same")
            names.append((key, name))
    members, written = _members(districts, towns, exact, names)
    places: dict[str, tuple[str, ...]] = {}
    own: dict[str, str] = {}
    for key, found in members.items():
        if key in exact:
            own[key] = exact[key]
        # "Boylston" may mean West Boylston too, "Essex" Essex North Shore.
        town_words = set(key.split())
        longer = [name for target, name in names
                  if town_words < set(target.split())
                  and set(target.split()) - town_words <= _GENERIC]
        first = [own[key]] if key in own else []
        places[key] = places[key.replace(" ", "")] = tuple(dict.fromkeys(first + found + longer))
    regional = frozenset(name for _, name in towns)
    abbreviations = _abbreviations(districts, regional, exact, places)
    exact.update(abbreviations)
    words: dict[str, set[str]] = {}
    for key, name in (*names, *((key, name) for key, found in members.items() for name in found)):
        words.setdefault(name, set()).update(key.split())
    return _Index(exact, places, own, regional, written, abbreviations,
                  tuple(dict.fromkeys([*names, *((key, places[key][0]) for key in members)])),
                  {name: frozenset(found) for name, found in words.items()})


def _members(
    districts: tuple[str, ...], towns: tuple[tuple[str, str], ...], exact: dict[str, str],
    names: list[tuple[str, str]],
) -> tuple[dict[str, list[str]], dict[str, tuple[str, ...]]]:
    """Member town -> its districts, and -> how district_towns.csv writes it.

    The towns are those of district_towns.csv and the parts of hyphenated names found in no
    other district ("Yarmouth" -> Dennis-Yarmouth).
    """
    members: dict[str, list[str]] = {}
    written: dict[str, list[str]] = {}
    for town, name in towns:
        key = normalise(town)
        members.setdefault(key, []).append(name)
        written.setdefault(key, []).append(town)
    owners: dict[str, set[str]] = {}
    for key, name in names:
        for word in key.split():
            owners.setdefault(word, set()).add(name)
    for name in districts:
        for text in (text for text in _written(name) if "-" in text):
            for part in (normalise(piece) for piece in text.split("-")):
                part_words = part.split()
                if (part_words and part not in exact and not set(part_words) <= _GENERIC
                        and all(owners.get(word) == {name} for word in part_words)
                        and name not in members.get(part, ())):
                    members.setdefault(part, []).append(name)
    return members, {key: tuple(dict.fromkeys(texts)) for key, texts in written.items()}


def _acronyms(name: str) -> Iterator[str]:
    initials = "".join(word[0] for word in normalise(name).split())
    return (initials + suffix for suffix in _ACRONYM_SUFFIXES)


def _abbreviations(
    districts: tuple[str, ...], regional: frozenset[str], exact: dict[str, str],
    places: dict[str, tuple[str, ...]],
) -> dict[str, str]:
    """Abbreviation -> district: the listed ones, and regional districts' initials + RSD or RHS
    where no other district has the same initials ("NRSD" is Nashoba, Narragansett or Nauset)."""
    made: dict[str, set[str]] = {}
    for name in sorted(regional):
        for acronym in _acronyms(name):
            made.setdefault(acronym, set()).add(name)
    found = {acronym: owners.pop() for acronym, owners in made.items() if len(owners) == 1}
    for name in districts:
        for abbreviation in ABBREVIATIONS.get(name, ()):
            found[normalise(abbreviation)] = name
    return {key: name for key, name in found.items() if key not in exact and key not in places}


def match_district(text: str, districts: tuple[str, ...] | None = None) -> DistrictMatch:
    """The district `text` names, or suggestions when it is not clear which.

    Both `text` and the names are normalised: case, accents and punctuation ignored,
    "-borough" = "-boro", "Mt" = "Mount", and surrounding words such as "the", "public schools",
    "regional school district", "RSD", "vocational technical", "MA" removed. Then, in order:

    1. a member town of several districts ("Boxford": Boxford's own elementary district and
       Masconomet; "Boylston": Berlin-Boylston and West Boylston) -> those as suggestions, reason
       SEVERAL; unless "public schools" or "regional" after it says which ("Amherst Regional");
    2. the normalised text equals a normalised name, alias or abbreviation ("BPS", "ABRSD"),
       spaces ignored -> that district;
    3. a member town of one district (district_towns.csv, or a part of a hyphenated name found
       in no other district: "Holden" -> Wachusett, "Yarmouth" -> Dennis-Yarmouth) -> it;
    4. a place followed by school words ("Newton North High School") -> as for the place; a
       place also a person's name or a common word names a school only as "... High School"
       ("Lincoln Elementary" gives Lincoln as a suggestion, reason SCHOOL);
    5. fuzzy (difflib ratio): with at least 4 letters, the best district scores 0.85 or more,
       leads the next district by 0.05 or more, and has the same North/South/East/West/New...
       words as the text -> that district ("worcster" -> Worcester, but "East Springfeld" is
       not West Springfield).

    Otherwise `name` is None and `suggestions` lists up to 5 districts sharing a word with the
    text or scoring 0.6 or more, best first; reason SCHOOL when the text has a school word
    ("Oakridge Elementary"). More than 120 characters, no letters, or a system name ("Mass",
    "ESE", "ELAR") give neither a name nor suggestions.
    """
    if len(text) > MAX_TEXT or not re.search(r"[^\W\d_]", text):
        return DistrictMatch(None)
    key = normalise(text)
    if set(key.split()) <= _SYSTEM_WORDS:
        return DistrictMatch(None)
    index = _index(*_lists(districts))
    words = _tokens(text)
    found = _place(index, key, set(words))
    if found is not None:
        return found
    school = _school(index, _without_leading(words))
    if school is not None:
        return school
    best: dict[str, tuple[float, str]] = {}
    matcher = difflib.SequenceMatcher(b=key, autojunk=False)
    for target, name in index.targets:
        matcher.set_seq1(target)
        best[name] = max(best.get(name, (0.0, "")), (matcher.ratio(), target))
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    (first, (score, target)), second = ranked[0], (ranked[1][1][0] if len(ranked) > 1 else 0.0)
    qualifiers = set(key.split()) & _QUALIFIERS
    if (len(key) >= MIN_FUZZY_LENGTH and score >= CONFIDENT_RATIO
            and score - second >= CONFIDENT_MARGIN
            and qualifiers == set(target.split()) & _QUALIFIERS):
        return _place(index, target, set()) or DistrictMatch(first)
    distinctive = set(key.split()) - _GENERIC
    sharing = [name for name, _ in ranked if distinctive & index.words[name]]
    similar = [name for name, (ratio, _) in ranked if ratio >= SUGGEST_RATIO]
    suggestions = tuple(dict.fromkeys([*sharing, *similar]))[:MAX_SUGGESTIONS]
    return DistrictMatch(None, suggestions, SCHOOL if _SCHOOL_LIKE & set(words) else None)


def _lists(
    districts: tuple[str, ...] | None,
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    names = tuple(districts) if districts is not None else load_districts()
    return names, _district_towns(names)


def _place(index: _Index, key: str, words: set[str]) -> DistrictMatch | None:
    """What a district name, abbreviation or member town `key` names; None if it is neither.

    `words`, the text's words, may say which of a town's districts is meant.
    """
    compact = key.replace(" ", "")
    candidates = index.places.get(key) or index.places.get(compact) or ()
    if len(candidates) > 1:
        own = index.own.get(key) or index.own.get(compact)
        regional = [name for name in candidates if name != own and name in index.regional]
        if own and words & _PUBLIC_MARKERS:
            return DistrictMatch(own)
        if len(regional) == 1 and words & _REGIONAL_MARKERS and not words & _VOCATIONAL_MARKERS:
            return DistrictMatch(regional[0])
        return DistrictMatch(None, candidates[:MAX_SUGGESTIONS], SEVERAL)
    name = index.exact.get(key) or index.exact.get(compact)
    if name is None and candidates:
        name = candidates[0]
    return DistrictMatch(name) if name else None


def _school(index: _Index, words: list[str]) -> DistrictMatch | None:
    """A school named after its place ("Newton North High School" -> Newton), else None."""
    for end in range(len(words) - 1, 0, -1):
        rest = set(words[end:])
        if not (rest <= _SCHOOL_NAME_WORDS and rest & _SCHOOL_WORDS):
            continue
        place = " ".join(words[:end])
        found = _place(index, place, set())
        if found is None:
            continue
        if place in _NAMES_PEOPLE_SHARE and not rest & _HIGH_SCHOOL:
            return DistrictMatch(None, (found.name,) if found.name else found.suggestions, SCHOOL)
        return found
    return None


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


def _school_words(index: _Index, name: str, short: str) -> tuple[tuple[str, ...], bool]:
    """The school words that may follow a short name, and whether it may also stand alone."""
    if _is_vocational(name):
        return VOCATIONAL_WORDS, False
    key = normalise(short)
    if key in AMBIGUOUS_TOWNS:
        return PUBLIC_WORDS, False
    if key in AMBIGUOUS_REGIONALS:
        return REGIONAL_WORDS, False
    if key in index.own:  # "Boxford Regional" is Masconomet, not Boxford
        return PUBLIC_WORDS, True
    return PUBLIC_WORDS + REGIONAL_WORDS, True


def _town_texts(key: str, town: str) -> list[str]:
    """How a member town may be written in a sentence to count as its district."""
    with_words = [f"{town} {words}" for words in PUBLIC_WORDS]
    if key in AMBIGUOUS_MEMBER_TOWNS:
        return with_words
    if key in PERSON_NAMED_TOWNS:
        return [f"in {town}", *with_words]
    return [town, *with_words]


def district_patterns(districts: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """spaCy entity-ruler token patterns, label "district", id the canonical name.

    Complete names match alone. A short name matches followed by a school word ("Worcester
    Public Schools", "Nashoba Regional", "Cape Cod Tech") and alone too, except for vocational
    districts and ambiguous names (AMBIGUOUS_TOWNS, AMBIGUOUS_REGIONALS): "Sharon" or
    "Gateway" alone is never a district, "Sharon Public Schools" is. Abbreviations match alone
    ("directory admin for BPS"). A member town of one district matches alone ("I teach in
    Boxborough"), after "in" when it is also a person's name ("we're in Holden", not "my son
    Holden"), and followed by a school word in any case ("Washington schools").
    """
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    index = _index(*_lists(districts))
    names = districts if districts is not None else load_districts()
    texts: dict[str, list[str]] = {}
    for name in names:
        complete, short = _stems(name)
        texts[name] = sorted(complete)
        for stem in sorted(short):
            school_words, alone = _school_words(index, name, stem)
            texts[name] += ([stem] if alone else []) + [f"{stem} {words}" for words in school_words]
    for abbreviation, name in sorted(index.abbreviations.items()):
        texts[name].append(abbreviation)
    for key, towns in sorted(index.towns.items()):
        found = index.places[key]
        if len(found) == 1:
            for town in towns:
                texts[found[0]] += [text for spelling in sorted(_spellings(town))
                                    for text in _town_texts(key, spelling)]
    patterns: list[dict[str, object]] = []
    for name in names:
        seen: set[tuple[str, ...]] = set()
        for text in texts[name]:
            tokens = tuple(token.lower_ for token in tokenizer(text))
            if tokens not in seen:
                seen.add(tokens)
                patterns.append({"label": "district",
                                 "pattern": [{"LOWER": token} for token in tokens],
                                 "id": name})
    return patterns
