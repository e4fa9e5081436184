"""Per-caller rate limit on evaluation (``REPOLICY_RATE_LIMIT``, e.g. ``100/second;3000/minute``), with
flask-limiter.

The caller is the token's name, or ``ip:<address>`` for a request without a token (open evaluation);
behind a proxy that address is the proxy's unless gunicorn is told to trust its ``X-Forwarded-For``.
Counts are kept in each worker's memory, so the limit holds per worker (a caller may get up to
workers x the limit in all).  Over the limit: ``429`` with ``Retry-After``.  Empty: no limit.
"""

from __future__ import annotations

import functools
from typing import Any
from collections.abc import Callable

from flask import Flask, current_app, g, request
from flask_limiter import Limiter


def caller_key() -> str:
    principal = g.get("principal")
    return f"caller:{principal.name}" if principal is not None else f"ip:{request.remote_addr}"


limiter = Limiter(key_func=caller_key, storage_uri="memory://", headers_enabled=True)


def install(app: Flask) -> None:
    if app.config["RATE_LIMIT"]:  # without a limit, flask-limiter's hooks cost each request ~10% for nothing
        limiter.init_app(app)


def per_caller(view: Callable) -> Callable:
    """Decorator (inside ``require``, so the caller is known): the configured limit on this view."""
    limited = limiter.limit(lambda: current_app.config["RATE_LIMIT"])(view)

    @functools.wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return (limited if current_app.config["RATE_LIMIT"] else view)(*args, **kwargs)

    return inner
