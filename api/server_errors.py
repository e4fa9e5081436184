"""gunicorn's own error answers (a request line over 4,094 bytes: 414; too many or too large header
fields: 431; a malformed request: 400) in the service's JSON error format instead of an HTML page.

gunicorn writes them itself, before the application sees the request (so the path may not even be
known), through ``gunicorn.util.write_error``, whatever the worker class; :func:`install` replaces that
function with one writing ``{"error", "message"}`` JSON.  Called when the app is created, so it holds in
the gunicorn master and in every worker forked from it.
"""

from __future__ import annotations

import json
import re

from api.errors import error_body


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Same contract as ``gunicorn.util.write_error``: a complete response on ``sock``, then close."""
    from gunicorn import util

    code = re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "error"
    body = json.dumps(error_body(code, mesg or reason)).encode("utf-8")  # ensure_ascii: any text is safe
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1", "replace") + body)


def install() -> None:
    try:
        from gunicorn import util
    except ImportError:  # not under gunicorn: nothing to replace
        return
    util.write_error = write_json_error
