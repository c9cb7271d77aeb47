"""`python -m bot.ops.quiet MODULE ARGS...`: a module's command line (`rasa`, `rasa_sdk`) without
third-party deprecation warnings, so a terminal shows the bot's own lines.

Rasa's dependencies print some forty deprecation warnings before its first line of its own
(pyparsing, click, pkg_resources, SQLAlchemy 2.0 notices...), and warning filters cannot stop
them: importing Sanic asks to see every DeprecationWarning again, and Rasa asks to see every
UserWarning once (pyparsing's deprecations are both). So they are dropped where warnings are
shown; every other warning is shown as before.
"""

from __future__ import annotations

import runpy
import sys
import warnings
from typing import Any, TextIO

_show = warnings.showwarning


def _show_unless_deprecated(message: Warning | str, category: type[Warning], filename: str,
                            lineno: int, file: TextIO | None = None,
                            line: str | None = None) -> Any:
    if issubclass(category, DeprecationWarning | PendingDeprecationWarning):
        return None
    return _show(message, category, filename, lineno, file, line)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m bot.ops.quiet MODULE [ARGS...]")
    module, *args = sys.argv[1:]
    warnings.showwarning = _show_unless_deprecated
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
