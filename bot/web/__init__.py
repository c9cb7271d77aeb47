"""The web app (127.0.0.1:8000 in `make run`): the help pages with their chat, the
password-reset page and the agents' console. `python -m bot.web` runs it."""

from bot.web.app import create_app, main, make_runner, serve
from bot.web.common import SECURITY_HEADERS

__all__ = ["SECURITY_HEADERS", "create_app", "main", "make_runner", "serve"]
