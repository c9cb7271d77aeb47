"""`python -m bot.ops.rasa_server run ...`: `rasa run ...` with the HTTP API's token taken from
the environment (RASA_API_TOKEN), so that it never shows in the process list.

With `--enable-api` every API call (`/status`, `/conversations/...`, `/model/...`) needs
`?token=<RASA_API_TOKEN>`; without a token set, the API is not started at all. The channels
(`/webhooks/...`, `/socket.io/`) need none: they are what users talk to.
"""

from __future__ import annotations

import os
import sys

from bot.ops.quiet import drop_deprecation_warnings

API_TOKEN_VARIABLE = "RASA_API_TOKEN"


def rasa_arguments(args: list[str], token: str | None) -> list[str]:
    """`args` for `rasa` with the token added after --enable-api, or the API refused."""
    if "--enable-api" not in args:
        return args
    if not token:
        raise SystemExit(f"error: --enable-api needs {API_TOKEN_VARIABLE} (the API's token)")
    return [*args, f"--auth-token={token}"]  # one argument: a token may start with "-"


def main() -> None:
    drop_deprecation_warnings()
    arguments = rasa_arguments(sys.argv[1:], os.environ.get("RASA_API_TOKEN"))
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *arguments]
    rasa_main()


if __name__ == "__main__":
    main()
