"""The Directory Administrators import, on SQLite and PostgreSQL: all rows or none, canonical
district names, updates instead of copies, and the lookup by district."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.csv_import import ImportRejected, read_file
from bot.db import make_engine, session_factory
from bot.directory.admins import lookup_admins
from bot.directory.admins_import import import_admins, read_admins
from bot.directory.cli import DEMO_ADMINS, add_commands, import_command
from bot.models import DirectoryAdmin
from bot.validation import is_us_phone

HEADER = "district,first_name,last_name,email,phone\n"
GOOD = [
    "Worcester Public Schools,Wanda,Example,Wanda.Example@Example.org,(508) 555-0101\n",
    "worcster,Abe,Able,abe.able@example.org,508-555-0102 x14\n",
    "acton boxborough regional school district,Avery,Example,avery@example.org,\n",
]


def count(url: str) -> int:
    with session_factory(make_engine(url))() as session:
        return session.execute(select(func.count(DirectoryAdmin.id))).scalar_one()


def run_import(url: str, text: str):
    with session_factory(make_engine(url))() as session:
        return import_admins(session, text)


def admins_of(url: str, district: str) -> list[tuple[str, str, str, str]]:
    with session_factory(make_engine(url))() as session:
        return [(a.first_name, a.last_name, a.email, a.phone)
                for a in lookup_admins(session, district)]


def test_import_stores_canonical_districts_and_lookup_orders_by_last_name(
    database_url: str,
) -> None:
    report = run_import(database_url, HEADER + "".join(GOOD))
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert admins_of(database_url, "Worcester") == [
        ("Abe", "Able", "abe.able@example.org", "508-555-0102 x14"),
        ("Wanda", "Example", "wanda.example@example.org", "(508) 555-0101"),
    ]
    assert admins_of(database_url, "Acton-Boxborough") == [
        ("Avery", "Example", "avery@example.org", "")
    ]
    assert admins_of(database_url, "Boston") == []


def test_a_district_is_taken_as_listed_though_its_town_has_another(database_url: str) -> None:
    run_import(database_url, HEADER + "Boxford,Bo,Example,bo@example.org,\n"
               "Masco,Ma,Example,ma@example.org,\n")
    assert [admin[0] for admin in admins_of(database_url, "Boxford")] == ["Bo"]
    assert [admin[0] for admin in admins_of(database_url, "Masconomet")] == ["Ma"]


def test_columns_in_any_order_and_values_trimmed(database_url: str) -> None:
    text = ("email , phone,last_name,district,first_name\n"
            " a@example.org , 617 555 0100 ,Doe, Boston ,Al\n")
    run_import(database_url, text)
    assert admins_of(database_url, "Boston") == [("Al", "Doe", "a@example.org", "617 555 0100")]


def test_reimport_updates_instead_of_duplicating(database_url: str) -> None:
    run_import(database_url, HEADER + "".join(GOOD))
    assert run_import(database_url, HEADER + "".join(GOOD)).unchanged == 3
    # Same district however written, same e-mail whatever its case: the same administrator.
    moved = "Worcester,Wanda,Example-Smith,WANDA.EXAMPLE@example.org,(508) 555-0199\n"
    report = run_import(database_url, HEADER + moved + "".join(GOOD[1:]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert count(database_url) == 3
    assert ("Wanda", "Example-Smith", "wanda.example@example.org", "(508) 555-0199") in admins_of(
        database_url, "Worcester"
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("Worcestershire Sauce,Al,Doe,a@example.org,\n", "is not a Massachusetts school district"),
        ("Narnia,Al,Doe,a@example.org,\n", "'Narnia' is not a Massachusetts school district"),
        ("Boylston,Al,Doe,a@example.org,\n", "did you mean 'Berlin-Boylston' or 'West Boylston'?"),
        ("Mass,Al,Doe,a@example.org,\n", "'Mass' is not a Massachusetts school district"),
        ("Boston,Al,Doe,al@nodomain,\n", "email is not an address"),
        ("Boston,<b>Al</b>,Doe,a@example.org,\n", "first_name must be letters"),
        ("Boston,Al,,a@example.org,\n", "last_name is empty"),
        (",Al,Doe,a@example.org,\n", "district is empty"),
        ("Boston,Al,Doe,a@example.org,555-0100\n", "phone is not a US number"),
        ("Boston,Al,Doe,a@example.org,call me\n", "phone is not a US number"),
        ("Boston,Al,Doe,a@example.org,(123) 555-0100\n", "phone is not a US number"),
        ("Boston,Al,Doe,a@example.org,,extra\n", "more fields"),
        ("Worcester,Wanda,Example,wanda.example@example.org,\n", "duplicate of line 2"),
    ],
)
def test_a_bad_row_is_reported_by_line_and_nothing_is_written(
    database_url: str, row: str, reason: str
) -> None:
    with pytest.raises(ImportRejected) as rejected:
        run_import(database_url, HEADER + "".join(GOOD) + row)
    [(line, message)] = rejected.value.problems
    assert line == 5 and reason in message
    assert count(database_url) == 0


def test_every_bad_row_is_reported(database_url: str) -> None:
    rows = (HEADER + GOOD[0] + "Narnia,Al,Doe,bad,555\n" + GOOD[1]
            + "Sprigfld,Sam,Doe,s@example.org,\n")
    with pytest.raises(ImportRejected) as rejected:
        run_import(database_url, rows)
    problems = rejected.value.problems
    assert [line for line, _ in problems] == [3, 3, 3, 5]
    assert "did you mean 'Springfield'" in problems[3][1]
    assert count(database_url) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("district,first_name,email\nBoston,Al,a@example.org\n", "missing column 'last_name'"),
        (HEADER.replace("phone", "fax"), "unknown column 'fax'"),
        (HEADER, "no administrators"),
        ("", "missing column 'district'"),
    ],
)
def test_a_bad_header_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ImportRejected, match=reason):
        read_admins(text)


def test_phone_numbers() -> None:
    """Checked by `phonenumbers`: the shape and whether the number can exist in the US."""
    for good in ("(508) 555-0100", "508-555-0100", "508.555.0100", "5085550100",
                 "+1 508 555 0100", "1-508-555-0100", "508-555-0100 x12", "(508) 555-0100 ext. 12",
                 "508 555 0100 extension 7"):
        assert is_us_phone(good), good
    for bad in ("555-0100", "508-555-010", "508-555-01000", "(023) 555-0100", "508-055-0100",
                "508-555-0100 x", "phone", "508-555-0100; DROP TABLE", "(000) 000-0000",
                "+44 20 7946 0958", "508-555-0100 508-555-0101"):
        assert not is_us_phone(bad), bad


def test_impossible_addresses_and_numbers_are_refused_with_their_line() -> None:
    rows = (HEADER + "Worcester,Al,Doe,.a..b@example.org,\n"
            + "Worcester,Bo,Doe,bo@example.org,(000) 000-0000\n")
    with pytest.raises(ImportRejected) as rejected:
        read_admins(rows)
    assert "line 2: email" in str(rejected.value) and "line 3: phone" in str(rejected.value)


def test_a_file_with_a_byte_order_mark_imports(database_url: str, tmp_path: Path) -> None:
    excel = tmp_path / "admins.csv"
    excel.write_bytes(("\ufeff" + HEADER + GOOD[0]).encode("utf-8"))
    assert run_import(database_url, read_file(excel)).created == 1


def test_the_demo_file_imports_cleanly(database_url: str) -> None:
    rows = read_admins(read_file(DEMO_ADMINS))
    assert 6 <= len(rows) <= 10
    assert all(row["email"].endswith("@example.org") for row in rows)
    assert all(not row["phone"] or "555-01" in row["phone"].replace(".", "-").replace(" ", "-")
               for row in rows)
    assert run_import(database_url, read_file(DEMO_ADMINS)).created == len(rows)
    assert len(admins_of(database_url, "Worcester")) == 2


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="helpdesk")
    add_commands(parser.add_subparsers(dest="topic", required=True))
    return parser.parse_args(argv)


def test_command_line_import(database_url: str, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD[0] + "Narnia,Al,Doe,a@example.org,\n")
    args = parse(["admins", "import", str(bad)])
    assert args.handler(args, database_url) == 1
    refused = capsys.readouterr()
    assert "nothing imported, 1 problem(s)" in refused.err and "line 3:" in refused.err
    assert count(database_url) == 0
    args = parse(["admins", "import", str(DEMO_ADMINS)])
    assert args.handler is import_command and args.handler(args, database_url) == 0
    assert "8 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert args.handler(args, database_url) == 0
    assert "0 created, 0 updated, 8 unchanged" in capsys.readouterr().out
    missing = parse(["admins", "import", str(tmp_path / "missing.csv")])
    assert missing.handler(missing, database_url) == 2
    assert "no file at" in capsys.readouterr().err
