"""The agency's look (BRAND_* settings), the privacy notice and accessibility statement, and
dates as people read them (`bot.dates`): served for real over HTTP, no mocks."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import LiveServer

from bot.dates import clock, date_and_time, day_and_date, long_date
from bot.db import make_engine, session_factory, upgrade
from bot.recovery.service import RecoveryService
from bot.settings import Branding, Settings, SmtpSettings, contrast_with_white
from bot.tickets.service import shown
from bot.web import create_app
from bot.web.templating import use_brand

BASE_URL = "https://help.example.org"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"></svg>'


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


def serve(tmp_path: Path, brand: Branding) -> Iterator[str]:
    database_url = f"sqlite:///{tmp_path / 'helpdesk.sqlite3'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    settings = Settings(database_url, BASE_URL, b"secret", SmtpSettings(), brand=brand,
                        retention_days=21)
    server = LiveServer(create_app(RecoveryService(session_factory(engine), BASE_URL,
                                                   b"secret"), settings)).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        engine.dispose()
        use_brand(Branding())  # the next app starts from the neutral look


@pytest.fixture
def neutral(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, Branding())


@pytest.fixture
def branded(tmp_path: Path) -> Iterator[str]:
    logo = tmp_path / "logo.svg"
    logo.write_bytes(LOGO)
    yield from serve(tmp_path, Branding(
        site_name="Login help", agency="Example State Department of Education",
        logo_file=str(logo), color="#5a2d82",
        footer_links=(("Contact us", "https://www.example.gov/contact"),)))


# --- the look -------------------------------------------------------------------------------


def test_the_neutral_default_has_no_logo_and_the_usual_colour(neutral: str) -> None:
    status, _headers, page = get(neutral + "/")
    assert status == 200
    assert "<title>Help – ESE Security Portal and MassONE help desk</title>" in page
    assert 'class="site-logo"' not in page
    assert '<a href="/privacy">Privacy notice</a>' in page
    assert '<a href="/accessibility">Accessibility</a>' in page
    _status, headers, css = get(neutral + "/brand.css")
    assert headers["Content-Type"].startswith("text/css")
    assert "--brand: #0b4f8a;" in css


def test_an_agency_s_name_logo_colour_and_footer_links_are_on_every_page(branded: str) -> None:
    for path in ("/", "/help/massone_faq", "/privacy", "/accessibility", "/reset/nope"):
        _status, _headers, page = get(branded + path)
        assert "Login help</a>" in page, path
        assert 'src="/brand/logo" alt="Example State Department of Education"' in page, path
        assert '<a href="https://www.example.gov/contact">Contact us</a>' in page, path
        assert '<link rel="stylesheet" href="/brand.css">' in page, path
    status, headers, svg = get(branded + "/brand/logo")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml" and "<svg" in svg
    _status, _headers, css = get(branded + "/brand.css")
    assert "--brand: #5a2d82;" in css and "--brand-dark: #442262;" in css


def test_no_logo_configured_is_a_404(neutral: str) -> None:
    assert get(neutral + "/brand/logo")[0] == 404


@pytest.mark.parametrize(("change", "message"), [
    ({"color": "#7fb2e5"}, "too light"),
    ({"color": "blue"}, "like #0b4f8a"),
    ({"logo_file": "/nonexistent/logo.png"}, "BRAND_LOGO_FILE"),
    ({"footer_links": (("Contact", "javascript:alert(1)"),)}, "BRAND_FOOTER_LINKS"),
])
def test_a_bad_brand_setting_stops_the_start_with_its_name(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(Branding(), **change)


def test_brand_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("BRAND_AGENCY", "Example Agency")
    monkeypatch.setenv("BRAND_COLOR", "#1a5e20")
    monkeypatch.setenv("BRAND_FOOTER_LINKS", "Contact us=https://e.gov/c; Terms=/terms")
    brand = Settings.from_env().brand
    assert (brand.agency, brand.color) == ("Example Agency", "#1a5e20")
    assert brand.footer_links == (("Contact us", "https://e.gov/c"), ("Terms", "/terms"))
    assert contrast_with_white("#1a5e20") >= 4.5


# --- the statements -------------------------------------------------------------------------


def test_the_privacy_notice_says_what_why_how_long_and_who(branded: str) -> None:
    status, _headers, page = get(branded + "/privacy")
    assert status == 200
    for said in ("date of birth", "e-mail address", "first and last\nname",
                 "deleted after <strong>21 days</strong>",
                 "Help-desk staff of Example State Department of Education",
                 "never type one into the chat"):
        assert said in page, said


def test_the_accessibility_statement_names_the_standard_and_a_way_to_complain(
    neutral: str,
) -> None:
    status, _headers, page = get(neutral + "/accessibility")
    assert status == 200
    assert "WCAG) 2.1 at level AA" in page and "Tell us about a problem" in page
    assert "The help desk wants everyone" in page  # the neutral default names no agency


# --- dates ----------------------------------------------------------------------------------


def test_dates_read_as_people_write_them() -> None:
    assert long_date(date(2026, 11, 28)) == "November 28, 2026"
    assert long_date(None) == "–" and long_date(None, missing="Never") == "Never"
    assert day_and_date(date(2026, 11, 27)) == "Friday, November 27"
    assert [clock(time(h, m)) for h, m in ((0, 5), (8, 0), (12, 30), (16, 0))] == [
        "12:05 am", "8:00 am", "12:30 pm", "4:00 pm"]
    eastern = datetime(2026, 11, 28, 14, 5, tzinfo=timezone.utc).astimezone(
        ZoneInfo("America/New_York"))
    assert date_and_time(eastern) == "November 28, 2026, 9:05 am EST"


def test_a_date_fact_is_shown_as_a_date_not_as_stored() -> None:
    assert shown("2026-12-01") == "December 1, 2026"
    assert shown("") == "(not given)" and shown("Lincoln Elementary") == "Lincoln Elementary"


# --- lists as lists -------------------------------------------------------------------------


def test_a_series_in_a_long_answer_is_a_real_list_on_the_help_page(neutral: str) -> None:
    _status, _headers, page = get(neutral + "/help/massone_faq")
    start = page.index('id="massone_browser_support"')
    article = page[start:page.index("</article>", start)]
    assert "one of these browsers:</p>" in article
    assert '<ul class="series">' in article
    assert "<li>Netscape Navigator version 4.7 or higher</li>" in article
    assert "<li>Opera version 8 or higher</li>" in article  # "or" is not part of the item
    assert "<p>MassONE is not officially compatible" in article
