"""Third-party deprecation warnings dropped where our server processes start
(`bot.ops.rasa_server`, `bot.ops.action_server`), so a terminal shows the bot's own lines.

Rasa's dependencies print some forty deprecation warnings before its first line of its own
(pyparsing, click, pkg_resources, SQLAlchemy 2.0 notices...), and warning filters cannot stop
them: importing Sanic asks to see every DeprecationWarning again, and Rasa asks to see every
UserWarning once (pyparsing's deprecations are both). So they are dropped where warnings are
shown; every other warning is shown as before.
"""

from __future__ import annotations

import warnings
from typing import Any, TextIO

_show = warnings.showwarning


def _show_unless_deprecated(message: Warning | str, category: type[Warning], filename: str,
                            lineno: int, file: TextIO | None = None,
                            line: str | None = None) -> Any:
    if issubclass(category, DeprecationWarning | PendingDeprecationWarning):
        return None
    return _show(message, category, filename, lineno, file, line)


def drop_deprecation_warnings() -> None:
    """From now on, this process shows no DeprecationWarning or PendingDeprecationWarning."""
    warnings.showwarning = _show_unless_deprecated
