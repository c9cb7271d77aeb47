"""Every setting the code reads from the environment is documented: in .env.example (what
production sets) and in the README's Configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(r"""(?:environ(?:\.get)?\(?\[?|env\.get\()["']([A-Z][A-Z0-9_]+)["']""")
TOOLS_ONLY = {"CHROMIUM"}  # read by a measuring command and the tests, not by the services


def settings_read() -> set[str]:
    names = set()
    for folder in ("bot", "actions"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(READ.findall(path.read_text()))
    return names


def test_the_code_reads_the_settings_we_expect() -> None:
    assert {"DATABASE_URL", "SECRET_KEY", "TRACKER_STORE_URL", "SMTP_HOST"} <= settings_read()


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert settings_read() - TOOLS_ONLY <= documented


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in settings_read() if f"`{name}`" not in readme}
    assert not missing, f"not in README.md: {sorted(missing)}"
