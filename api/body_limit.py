"""The body size limit for bodies sent without ``Content-Length`` (``Transfer-Encoding: chunked``).

Werkzeug refuses a declared ``Content-Length`` over ``MAX_CONTENT_LENGTH`` with a 413, but a chunked body
is read through a stream that simply stops at the limit: the first 8 MiB were evaluated (a 200 if the
rest was whitespace).  This WSGI middleware reads such a body itself, up to the limit: over it, the answer
is a JSON 413 (and the connection is closed, so the rest is not read); within it, the application sees an
ordinary body with its ``Content-Length``.
"""

from __future__ import annotations

import io
import json
from typing import Any
from collections.abc import Callable, Iterable

from api.errors import error_body

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
CHUNK = 64 * 1024


class ChunkedBodyLimit:
    """Buffers a chunked request body of at most ``limit()`` bytes; refuses a longer one with 413."""

    def __init__(self, app: WSGIApp, limit: Callable[[], int | None]):
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)
        limit = self.limit()
        body = _read_at_most(environ["wsgi.input"], None if limit is None else limit + 1)
        if limit is not None and len(body) > limit:
            payload = json.dumps(
                error_body("payload_too_large", f"request body over the limit of {limit} bytes (sent chunked)")
            ).encode("utf-8")
            start_response(
                "413 Request Entity Too Large",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), ("Connection", "close")],
            )
            return [payload]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        return self.app(environ, start_response)


def _read_at_most(stream, most: int | None) -> bytes:
    parts, size = [], 0
    while most is None or size < most:
        part = stream.read(CHUNK if most is None else min(CHUNK, most - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)
