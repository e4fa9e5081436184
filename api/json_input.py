"""Request bodies as JSON, parsed one way for every endpoint (API and pages).

Whatever the client sends, the outcome is a value or an :class:`ApiError` 400 with a path: not UTF-8,
not JSON, ``NaN``/``Infinity``, nesting deeper than the parser's recursion limit (about 1,000 levels:
``json`` raises ``RecursionError``, which is not a ``ValueError``), and text holding a lone surrogate
(see policy.text: it would fail later in the database, the decision log or the engine).
"""

from __future__ import annotations

from typing import Any

from flask import request

from api.errors import ApiError
from policy import jsonio
from policy.text import SURROGATE_ESCAPE, SURROGATE_MESSAGE, surrogate_paths


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_text(text: str) -> Any:
    """``text`` as a JSON value; ApiError 400 (with the path of the offending value) if it is not one."""
    try:
        value = jsonio.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(
            400, "invalid_request", "JSON nested too deeply", [{"path": "$", "message": "nesting too deep"}]
        ) from None
    except ValueError as exc:
        raise ApiError(
            400, "invalid_request", f"body is not valid JSON: {exc}", [{"path": "$", "message": str(exc)}]
        ) from None
    if SURROGATE_ESCAPE.search(text):  # only then can a string hold a surrogate: the walk is skipped otherwise
        paths = list(surrogate_paths(value))
        if paths:
            raise ApiError(
                400,
                "invalid_request",
                f"{len(paths)} text value(s) with a lone surrogate",
                [{"path": p, "message": SURROGATE_MESSAGE} for p in sorted(paths)],
            )
    return value


def parse_json_body(required: bool = True) -> Any:
    """The request body as JSON, whatever the Content-Type (curl -d sends form encoding).

    An empty body is an error when ``required``, else ``None``."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        if not required:
            return None
        raise ApiError(400, "invalid_request", "empty body: send a JSON object", [{"path": "$", "message": "required"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            "invalid_request",
            "body is not UTF-8",
            [{"path": "$", "message": f"invalid UTF-8 at byte {exc.start}"}],
        ) from None
    return parse_json_text(text)
