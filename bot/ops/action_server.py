"""The action server as it runs here: `python -m bot.ops.action_server --port 5055`.

rasa-sdk's own `python -m rasa_sdk` listens on every interface, serves anyone, inflates a
deflate-encoded body without a limit (0.5 MB became 512 MB) and answers a failing action with
the exception's text and the whole request (the conversation). This runs the same application
(`rasa_sdk.endpoint.create_app` over `actions/`) with:

* the address from ACTION_SERVER_INTERFACE (default 127.0.0.1);
* every request but `/health` refused with 401 unless it carries ACTION_SERVER_SECRET in the
  `X-Action-Secret` header (the Rasa servers send it: `action_endpoint: headers:` in their
  endpoints file);
* a request with a `Content-Encoding` refused with 415 (Rasa sends plain JSON unless
  COMPRESS_ACTION_SERVER_REQUEST is set, which nothing here sets), and bodies over
  MAX_BODY_BYTES refused by Sanic with 413;
* a failure answered with a bare 500, its class logged, never its text or the request.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.ops.quiet import drop_deprecation_warnings
from bot.settings import ACTION_SECRET_HEADER, action_server_interface, action_server_secret

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024  # a long conversation's tracker is well under 1 MB
OPEN_PATHS = frozenset({"/health"})


def make_app(secret: str, actions: str = "actions") -> Sanic:
    """The action server's application, guarded (see the module's docstring)."""
    app = create_app(actions, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    expected = secret.encode()

    @app.on_request
    async def guard(request: Request) -> HTTPResponse | None:
        if request.headers.get("Content-Encoding"):
            return response.json({"error": "Content-Encoding is not accepted"}, status=415)
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(ACTION_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500)
        if status >= 500:
            log.error("action request failed: %s", type(exception).__name__)
        return response.json({"error": "the action server could not handle the request"},
                             status=status)

    app.error_handler.add(Exception, failed)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    drop_deprecation_warnings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        secret = action_server_secret()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = make_app(secret, args.actions)
    host = action_server_interface()
    log.info("action server on http://%s:%d", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
