"""The layers hold: read every import (top level and inside functions) and check who imports whom.

- Services (everything in `bot/` but `bot/web/` and `bot/ops/`) never import `actions`, `bot.web`
  or `bot.ops`: they are called, they do not call their callers.
- `bot/web/` never imports Rasa (`rasa`, `rasa_sdk`, `bot.rasa_plugins`), `actions` or `bot.ops`:
  the web app runs without a model.
- `actions/` never imports `bot.web` or `bot.ops`: actions call services.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RASA = ("rasa", "rasa_sdk", "bot.rasa_plugins")


def forbidden_for(module: str) -> tuple[str, ...]:
    """The module prefixes `module` (dotted, e.g. `bot.tickets.service`) must not import."""
    if module.startswith("bot.web"):
        return (*RASA, "actions", "bot.ops")
    if module.startswith("bot.ops"):
        return ()
    if module.startswith("bot"):
        return ("actions", "bot.web", "bot.ops")
    if module.startswith("actions"):
        return ("bot.web", "bot.ops")
    return ()


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            # `from bot import web` imports bot.web
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violations(root: Path) -> list[str]:
    found = []
    for folder in ("bot", "actions"):
        for path in sorted((root / folder).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            forbidden = forbidden_for(module)
            for imported in sorted(imported_modules(path.read_text(encoding="utf-8"))):
                if any(_within(imported, prefix) for prefix in forbidden):
                    found.append(f"{path.relative_to(root)} imports {imported}")
    return found


def test_the_layers_hold() -> None:
    assert layer_violations(ROOT) == []


@pytest.mark.parametrize(
    ("where", "line", "imported"),
    [
        ("bot/tickets/service.py", "from bot.web.app import create_app", "bot.web.app"),
        ("bot/recovery/service.py", "from bot import web", "bot.web"),
        ("bot/knowledge/entries.py", "import actions.requests", "actions.requests"),
        ("bot/mail/worker.py", "from bot.ops.serve import Stack", "bot.ops.serve"),
        ("bot/web/help_pages.py", "from rasa_sdk import Tracker", "rasa_sdk"),
        ("bot/web/console.py", "from bot.rasa_plugins import lock_store", "bot.rasa_plugins"),
        ("actions/forms.py", "from bot.web.common import SITE_NAME", "bot.web.common"),
    ],
)
def test_a_crossed_layer_is_caught(tmp_path: Path, where: str, line: str, imported: str) -> None:
    target = tmp_path / where
    target.parent.mkdir(parents=True)
    target.write_text(f"def late():\n    {line}\n")  # inside a function counts too
    assert layer_violations(tmp_path)[0] == f"{where} imports {imported}"


def test_allowed_imports_are_not_flagged(tmp_path: Path) -> None:
    for where, line in [("bot/web/console.py", "from bot.tickets.service import shown"),
                        ("actions/requests.py", "from bot.services import ticket_service"),
                        ("bot/ops/serve.py", "from bot.web import make_runner")]:
        target = tmp_path / where
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(line + "\n")
    assert layer_violations(tmp_path) == []
