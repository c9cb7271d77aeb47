"""The district list, the fuzzy district matcher and the entity patterns for districts."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from bot.knowledge.districts import (
    AMBIGUOUS_REGIONALS,
    AMBIGUOUS_TOWNS,
    DISTRICTS_FILE,
    DistrictMatch,
    district_patterns,
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
