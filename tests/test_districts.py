"""The district list, the fuzzy district matcher and the entity patterns for districts."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from bot.knowledge.districts import (
    ABBREVIATIONS,
    AMBIGUOUS_MEMBER_TOWNS,
    AMBIGUOUS_REGIONALS,
    AMBIGUOUS_TOWNS,
    DISTRICTS_FILE,
    PERSON_NAMED_TOWNS,
    SCHOOL,
    SEVERAL,
    TOWNS_FILE,
    DistrictMatch,
    canonical_name,
    district_patterns,
    load_district_towns,
    load_districts,
    match_district,
    normalise,
)


@pytest.fixture(scope="module")
def nlp():
    import spacy

    pipeline = spacy.blank("en")
    pipeline.add_pipe("entity_ruler").add_patterns(district_patterns())
    return pipeline


def districts_in(nlp, sentence: str) -> list[tuple[str, str]]:
    return [(entity.text, entity.ent_id_) for entity in nlp(sentence).ents
            if entity.label_ == "district"]


def test_the_list_is_sorted_unique_and_plausible() -> None:
    names = load_districts()
    assert 300 <= len(names) <= 400
    assert len(set(names)) == len(names)
    assert list(names) == sorted(names, key=str.casefold)
    with DISTRICTS_FILE.open(encoding="utf-8", newline="") as file:
        assert next(csv.reader(file)) == ["name"]
    for name in ("Boston", "Worcester", "Springfield", "Acton-Boxborough", "Amherst-Pelham",
                 "Dennis-Yarmouth", "Nashoba", "Quabbin", "Wachusett",
                 "Assabet Valley Regional Vocational Technical",
                 "Blackstone Valley Regional Vocational Technical", "Martha's Vineyard"):
        assert name in names
    for not_a_district in ("Mass", "ESE", "ELAR", "MassONE"):
        assert not_a_district not in names


def test_every_name_normalises_to_a_distinct_key() -> None:
    keys = [normalise(name) for name in load_districts()]
    assert all(keys) and len(set(keys)) == len(keys)


def test_the_ambiguous_names_are_districts() -> None:
    keys = {normalise(name) for name in load_districts()}
    assert keys >= AMBIGUOUS_TOWNS | AMBIGUOUS_REGIONALS


def test_loading_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "districts.csv"
    path.write_text("\ufeffname\nLowell\n\"Martha's Vineyard\"\n", encoding="utf-8")
    assert load_districts(path) == ("Lowell", "Martha's Vineyard")
    assert match_district("marthas vineyard", load_districts(path)).name == "Martha's Vineyard"
    path.write_text("name\nLowell\nLowell\n", encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        load_districts(path)


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("worcester", "Worcester"),
        ("Worcester Public Schools", "Worcester"),
        ("WORCESTER PS", "Worcester"),
        ("worcster", "Worcester"),
        ("the City of Worcester, MA 01608", "Worcester"),
        ("Acton Boxborough Regional School District", "Acton-Boxborough"),
        ("acton-boxborough", "Acton-Boxborough"),
        ("ActonBoxborough", "Acton-Boxborough"),
        ("Acton", "Acton-Boxborough"),  # a member town of one regional district
        ("Yarmouth", "Dennis-Yarmouth"),
        ("Sprinfield", "Springfield"),
        ("Springfeild Public Schools", "Springfield"),
        ("West Springfield", "West Springfield"),
        ("West Sprinfield", "West Springfield"),
        ("Lowel", "Lowell"),
        ("New Bedford Public Schools", "New Bedford"),
        ("Bedford", "Bedford"),
        ("Foxboro", "Foxborough"),
        ("North Attleboro", "North Attleborough"),
        ("Northborough-Southborough Regional", "Northboro-Southboro"),
        ("Mt. Greylock Regional School District", "Mount Greylock"),
        ("Martha’s Vineyard Regional High School", "Martha's Vineyard"),
        ("Cape Cod Tech", "Cape Cod Regional Vocational Technical"),
        ("Greater Lowell RVT", "Greater Lowell Regional Vocational Technical"),
        ("Monomoy", "Monomoy Regional School District"),
        ("Adams-Cheshire", "Hoosac Valley Regional"),
        ("Sharon", "Sharon"),
    ],
)
def test_spellings_resolve_to_the_canonical_name(text: str, district: str) -> None:
    assert match_district(text) == DistrictMatch(district, ())


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("Boylston", {"West Boylston", "Berlin-Boylston"}),  # a town in two districts
        ("Bridgewater", {"East Bridgewater", "West Bridgewater", "Bridgewater-Raynham"}),
        ("Essex", {"Manchester Essex Regional"}),
        ("Hul", {"Hull"}),  # too short to guess
        ("Sharon Lee", {"Sharon", "Lee"}),
    ],
)
def test_unclear_text_gives_suggestions_not_a_name(text: str, suggested: set[str]) -> None:
    match = match_district(text)
    assert match.name is None
    assert suggested <= set(match.suggestions) and len(match.suggestions) <= 5


@pytest.mark.parametrize(
    "text",
    ["Narnia", "Mason", "Newtonville High", "East Springfeld", "Mass", "ESE", "ELAR", "MassONE",
     "the ESE portal", "Worcester County"],
)
def test_places_that_are_not_districts_give_no_name(text: str) -> None:
    assert match_district(text).name is None


@pytest.mark.parametrize(
    "text", ["", "   ", "12345", "--- ???", "Mass", "ESE", "ELAR", "Worcester " * 13, "xqzzyv"]
)
def test_no_letters_long_text_system_names_and_gibberish_give_nothing(text: str) -> None:
    assert match_district(text) == DistrictMatch(None, ())


def test_a_given_list_is_used() -> None:
    assert match_district("Worcester", ("Boston", "Lowell")) == DistrictMatch(None, ())
    assert match_district("Bostn", ("Boston", "Lowell")).name == "Boston"


def test_patterns_are_lowercase_tokens_with_one_district_each() -> None:
    patterns = district_patterns()
    owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for pattern in patterns:
        assert pattern["label"] == "district"
        tokens = tuple(token["LOWER"] for token in pattern["pattern"])
        assert all(token == token.lower() for token in tokens)
        owners[tokens].add(pattern["id"])
    assert all(len(ids) == 1 for ids in owners.values())
    assert set().union(*owners.values()) == set(load_districts())
    assert ("worcester", "public", "schools") in owners and ("worcester",) in owners
    for word in ("mass", "ese", "elar", "massone", "sharon", "lee", "gateway", "hampshire"):
        assert (word,) not in owners


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("my name is Sharon Lee", []),
        ("who is the directory admin for worcester", [("worcester", "Worcester")]),
        ("I moved from Acton-Boxborough to Lowell Public Schools",
         [("Acton-Boxborough", "Acton-Boxborough"), ("Lowell Public Schools", "Lowell")]),
        ("I can't log in to Mass ONE, the ESE Security Portal or ELAR", []),
        ("I work for Sharon Public Schools", [("Sharon Public Schools", "Sharon")]),
        ("Lee PS gave me the account", [("Lee PS", "Lee")]),
        ("the gateway is down and I was reading the FAQ", []),
        ("my last name is Franklin, I live in Holland and teach in Wales", []),
        ("Hull, Ware, Milton, Clinton, Lincoln, Carver, Orange, Florida", []),
        ("I used to teach in New Hampshire public schools", []),
        ("I teach at Hampshire Regional High School",
         [("Hampshire Regional High School", "Hampshire")]),
        ("I live on Cape Cod", []),
        ("I teach at Cape Cod Tech", [("Cape Cod Tech", "Cape Cod Regional Vocational Technical")]),
        ("Blackstone Valley Regional Vocational Technical is my district",
         [("Blackstone Valley Regional Vocational Technical",
           "Blackstone Valley Regional Vocational Technical")]),
        ("I am at west springfield", [("west springfield", "West Springfield")]),
        ("Marthas Vineyard Regional", [("Marthas Vineyard Regional", "Martha's Vineyard")]),
        ("we are in Foxboro", [("Foxboro", "Foxborough")]),
    ],
)
def test_entity_patterns_find_districts_not_names_or_words(
    nlp, sentence: str, found: list[tuple[str, str]]
) -> None:
    assert districts_in(nlp, sentence) == found


# Member towns of regional districts, abbreviations, school names (knowledge/district_towns.csv).


def test_the_towns_file_names_listed_districts_and_says_it_needs_checking() -> None:
    rows = load_district_towns()
    names = set(load_districts())
    assert 150 <= len(rows) <= 300 and len(set(rows)) == len(rows)
    assert {district for _, district in rows} <= names
    assert not any("Vocational" in district or "Technical" in district for _, district in rows)
    text = TOWNS_FILE.read_text(encoding="utf-8")
    assert text.startswith("#") and "check it against DESE" in text
    towns = {normalise(town) for town, _ in rows}
    assert towns >= AMBIGUOUS_MEMBER_TOWNS | PERSON_NAMED_TOWNS
    assert not AMBIGUOUS_MEMBER_TOWNS & PERSON_NAMED_TOWNS


def test_a_town_in_an_unlisted_district_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "district_towns.csv"
    path.write_text("# a comment\ntown,district\nHolden,Wachusett\n", encoding="utf-8")
    assert load_district_towns(path) == (("Holden", "Wachusett"),)
    path.write_text("town,district\nHolden,Wachusett Regional\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not in the list"):
        load_district_towns(path)
    path.write_text("town,district\nHolden,Wachusett\nHolden,Wachusett\n", encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        load_district_towns(path)


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("Holden", "Wachusett"),
        ("the town of Holden, MA", "Wachusett"),
        ("Paxton", "Wachusett"),
        ("Bolton", "Nashoba"),
        ("Lancaster", "Nashoba"),
        ("stow", "Nashoba"),
        ("Pepperell", "North Middlesex"),
        ("Great Barrington", "Berkshire Hills"),
        ("West Stockbridge", "Berkshire Hills"),
        ("West Newbury", "Pentucket"),
        ("Newbury", "Triton"),
        ("Manchester-by-the-Sea", "Manchester Essex Regional"),
        ("Templeton", "Narragansett"),
        ("Chatham", "Monomoy Regional School District"),
        ("Ayer", "Ayer Shirley School District"),
        ("Boxborough", "Acton-Boxborough"),  # hyphenated districts' parts still work
        ("Boxboro", "Acton-Boxborough"),
        ("Acton", "Acton-Boxborough"),
        ("Yarmouth", "Dennis-Yarmouth"),
        ("Tolland", "Southwick-Tolland-Granville Regional School District"),
    ],
)
def test_member_towns_name_their_regional_district(text: str, district: str) -> None:
    assert match_district(text) == DistrictMatch(district)


@pytest.mark.parametrize(
    ("text", "districts"),
    [
        # A town's own elementary district and the regional one for the older grades.
        ("Boxford", ("Boxford", "Masconomet")),
        ("middleton", ("Middleton", "Masconomet")),
        ("Topsfield", ("Topsfield", "Masconomet")),
        ("Amherst", ("Amherst", "Amherst-Pelham")),
        ("Concord", ("Concord", "Concord-Carlisle")),
        ("Sturbridge", ("Sturbridge", "Tantasqua")),
        ("Southborough", ("Southborough", "Northboro-Southboro")),
        # Two regional districts, or a name that is part of another district's.
        ("Aquinnah", ("Martha's Vineyard", "Up-Island Regional")),
        ("Wendell", ("New Salem-Wendell", "Ralph C Mahar")),
        ("Chesterfield", ("Chesterfield-Goshen", "Hampshire")),
        ("Boylston", ("Berlin-Boylston", "West Boylston")),
        ("Adams", ("Hoosac Valley Regional", "North Adams")),
    ],
)
def test_a_town_of_several_districts_offers_them_all(text: str, districts: tuple) -> None:
    assert match_district(text) == DistrictMatch(None, districts, SEVERAL)


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("Boxford Public Schools", "Boxford"),
        ("Amherst Regional High School", "Amherst-Pelham"),
        ("Sturbridge Regional", "Tantasqua"),
        ("Boylston Regional", "Berlin-Boylston"),
    ],
)
def test_public_or_regional_says_which_of_a_towns_districts(text: str, district: str) -> None:
    assert match_district(text) == DistrictMatch(district)


def test_a_listed_name_is_taken_as_listed_where_asked_for() -> None:
    assert canonical_name(" boxford ") == "Boxford"
    assert canonical_name("Acton-Boxborough") == "Acton-Boxborough"
    assert canonical_name("Acton Boxborough") is None and canonical_name("Holden") is None


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("BPS", "Boston"),
        ("the BPS", "Boston"),
        ("bps", "Boston"),
        ("B.P.S.", "Boston"),
        ("WPS", "Worcester"),
        ("the wps", "Worcester"),
        ("SPS", "Springfield"),
        ("ABRSD", "Acton-Boxborough"),
        ("the ABRHS", "Acton-Boxborough"),
        ("LSRHS", "Lincoln-Sudbury"),
        ("WRSD", "Wachusett"),
        ("Masco", "Masconomet"),
    ],
)
def test_common_abbreviations_name_their_district(text: str, district: str) -> None:
    assert match_district(text) == DistrictMatch(district)


@pytest.mark.parametrize(
    "text",
    ["LPS", "CPS", "NPS", "MPS", "the HPS", "PS", "RSD",
     "NRSD",  # Nashoba, Narragansett and Nauset
     "HWRSD",  # Hamilton-Wenham and Hampden-Wilbraham
     "SBRSD"],  # Southern Berkshire and Somerset Berkley
)
def test_abbreviations_of_several_districts_stay_unknown(text: str) -> None:
    assert match_district(text).name is None


def test_every_listed_abbreviation_belongs_to_a_listed_district() -> None:
    assert set(ABBREVIATIONS) <= set(load_districts())


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("Newton North High School", "Newton"),
        ("Newton South High", "Newton"),
        ("Boston Latin School", "Boston"),
        ("Worcester Technical High School", "Worcester"),
        ("Springfield Central High School", "Springfield"),
        ("West Springfield High School", "West Springfield"),
        ("North Andover Middle School", "North Andover"),
        ("Lowell High", "Lowell"),
        ("Holden Elementary School", None),  # a person's name: see below
        ("Wachusett Regional High School", "Wachusett"),
        ("Franklin High School", "Franklin"),
    ],
)
def test_a_school_named_after_its_place_names_the_district(text: str, district: str) -> None:
    assert match_district(text).name == district


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("Oakridge Elementary", ()),
        ("Mayo Elementary School", ()),
        # Schools named after people who share a town's name are anywhere: suggested only.
        ("Lincoln Elementary School", ("Lincoln", "Lincoln-Sudbury")),
        ("Winthrop Elementary", ("Winthrop",)),
        ("Holden Elementary School", ("Wachusett",)),
    ],
)
def test_a_school_without_its_district_is_recognised_as_a_school(
    text: str, suggested: tuple
) -> None:
    assert match_district(text) == DistrictMatch(None, suggested, SCHOOL)


@pytest.mark.parametrize(
    "text",
    ["Boston College High School", "Worcester Academy", "Boston Collegiate Charter School",
     "Newtonville High", "Newton North"],
)
def test_other_schools_near_a_place_name_get_no_guess(text: str) -> None:
    assert match_district(text).name is None


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("berkshire", {"Berkshire Hills", "Central Berkshire", "Southern Berkshire"}),
        ("Berkshire Regional", {"Berkshire Hills", "Central Berkshire", "Southern Berkshire"}),
        ("Springfield Hills", {"Springfield"}),
    ],
)
def test_short_shared_names_still_give_suggestions(text: str, suggested: set) -> None:
    match = match_district(text)
    assert match.name is None and suggested <= set(match.suggestions)


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("I teach in Boxborough", [("Boxborough", "Acton-Boxborough")]),
        ("we're in holden", [("in holden", "Wachusett")]),
        ("I work in Great Barrington", [("Great Barrington", "Berkshire Hills")]),
        ("I work for Holden public schools", [("Holden public schools", "Wachusett")]),
        ("directory admin for BPS?", [("BPS", "Boston")]),
        ("who is the directory administrator for the WPS",
         [("WPS", "Worcester")]),
        ("is there a DA at ABRSD", [("ABRSD", "Acton-Boxborough")]),
        ("I teach at Masco", [("Masco", "Masconomet")]),
        ("my son Holden can't log in", []),
        ("I'm Warren Spencer and Heath Dalton is my boss", []),
        ("I live in Washington and studied at Princeton", []),
        ("stow the laptop, the sterling is falling in Manchester", []),
        ("Washington public schools", [("Washington public schools", "Central Berkshire")]),
        ("LPS and CPS", []),
        ("I teach in Chilmark", []),  # two districts: asked, not guessed
    ],
)
def test_entity_patterns_find_member_towns_and_abbreviations(
    nlp, sentence: str, found: list[tuple[str, str]]
) -> None:
    assert districts_in(nlp, sentence) == found


VOCATIONAL = re.compile(r"\b(voc\w*|tech\w*|agri\w*|aggie|rvt)\b")


def test_every_member_town_pattern_resolves_to_its_district() -> None:
    towns = {normalise(town) for town, _ in load_district_towns()}
    checked = 0
    for pattern in district_patterns():
        text = " ".join(token["LOWER"] for token in pattern["pattern"])
        if normalise(text) in towns and not VOCATIONAL.search(text):
            match = match_district(text)
            assert match.name == pattern["id"] or (
                match.reason == SEVERAL and pattern["id"] in match.suggestions
            ), text
            checked += 1
    assert checked > 500
