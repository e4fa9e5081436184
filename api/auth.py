"""Bearer tokens and roles.

Roles: ``regulator`` (publish, activate, read), ``legal`` (read rules,
instruments, audit), ``caller`` (evaluate).  Tokens are configured as
SHA-256 digests, never in clear (``REPOLICY_TOKENS="name:role:sha256hex;..."``
or a file, one ``name:role:sha256hex`` a line); a presented token is hashed
and compared with every configured digest in constant time.  There is no
default credential: ``REPOLICY_DEV_MODE=1`` (development only, logged loudly)
adds the tokens ``dev-regulator``, ``dev-legal`` and ``dev-caller``.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask import current_app, g, request

from api.errors import ApiError

log = logging.getLogger(__name__)
ROLES = ("regulator", "legal", "caller")
DEV_TOKENS = {"dev-regulator": "regulator", "dev-legal": "legal", "dev-caller": "caller"}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_tokens(spec: str) -> list[tuple[str, str, str]]:
    """``name:role:sha256hex`` entries separated by ``;`` or new lines."""
    out = []
    for entry in spec.replace("\n", ";").split(";"):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        parts = entry.split(":")
        if len(parts) != 3 or parts[1] not in ROLES or len(parts[2]) != 64:
            raise ValueError(f"bad token entry {entry[:40]!r}: expected name:role:sha256hex, role one of {ROLES}")
        out.append((parts[0], parts[1], parts[2].lower()))
    return out


def load_tokens(config: dict) -> list[tuple[str, str, str]]:
    tokens = parse_tokens(config.get("TOKENS") or "")
    if config.get("TOKENS_FILE"):
        tokens += parse_tokens(Path(config["TOKENS_FILE"]).read_text(encoding="utf-8"))
    if config.get("DEV_MODE"):
        log.warning("DEVELOPMENT MODE: the well-known tokens %s are accepted; never use this in production",
                    ", ".join(DEV_TOKENS))
        tokens += [(name, role, token_digest(name)) for name, role in DEV_TOKENS.items()]
    return tokens


COOKIE = "repolicy_token"


def authenticate() -> Principal | None:
    """The principal of the bearer token (API) or of the login cookie (web pages), if any."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
    elif request.cookies.get(COOKIE):
        token = request.cookies[COOKIE]
    else:
        return None
    presented = token_digest(token)
    found = None
    for name, role, digest in current_app.extensions["repolicy_tokens"]:
        if hmac.compare_digest(presented, digest) and found is None:  # no early exit: constant time
            found = Principal(name, role)
    return found


def require(*roles: str, open_if: str | None = None) -> Callable:
    """Endpoint decorator: a token with one of ``roles`` (or none if config ``open_if`` is true)."""
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args, **kwargs):
            principal = authenticate()
            g.principal = principal
            if open_if and current_app.config.get(open_if):
                return view(*args, **kwargs)
            if principal is None:
                raise ApiError(401, "unauthorized", "a bearer token is required",
                               headers={"WWW-Authenticate": 'Bearer realm="repolicy"'})
            if principal.role not in roles:
                raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this; needs {' or '.join(roles)}")
            return view(*args, **kwargs)
        return inner
    return wrap
