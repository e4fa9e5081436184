"""Small client-supplied values read strictly (paging parameters, comments): a wrong value is a 400 naming
its path (``?limit``, ``comment``), never clamped, truncated or ignored.

``int("-1")``, ``int(" 5")``, ``int("1_000")`` and ``int("٣")`` all succeed in Python; a paging parameter
takes only ASCII digits, within a stated range (``limit=-1`` once returned every row past the cap).
"""

from __future__ import annotations

import re

from flask import request

from api.errors import ApiError
from policy.text import SURROGATE_MESSAGE, has_lone_surrogate

MAX_COMMENT = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks are text
_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits stay within the database's 64-bit integers


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    """``?name=`` as an integer in [minimum, maximum], ``default`` when absent; ApiError 400 otherwise."""
    text = request.args.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise ApiError(
            400,
            "invalid_request",
            f"{name} is an integer from {minimum} to {maximum}",
            [{"path": f"?{name}", "message": f"must be an integer from {minimum} to {maximum}"}],
        )
    return int(text)


def comment_text(value: object, path: str = "comment") -> str | None:
    """A reviewer's or regulator's comment: text of at most MAX_COMMENT characters, valid Unicode, no control
    characters (PostgreSQL refuses NUL); surrounding space dropped; None when empty."""
    if value is None:
        return None
    problem = None
    if not isinstance(value, str):
        problem = "must be a string"
    elif has_lone_surrogate(value):
        problem = SURROGATE_MESSAGE
    elif _CONTROL.search(value):
        problem = "must not contain control characters"
    elif len(value.strip()) > MAX_COMMENT:
        problem = f"at most {MAX_COMMENT} characters"
    if problem:
        raise ApiError(400, "invalid_request", f"invalid {path.lstrip('?')}", [{"path": path, "message": problem}])
    return value.strip() or None
