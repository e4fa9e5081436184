"""Bearer tokens and roles.

Roles: ``regulator`` (publish, activate, read), ``legal`` (read rules,
instruments, audit), ``caller`` (evaluate).  Tokens are configured as
SHA-256 digests, never in clear (``REPOLICY_TOKENS="name:role:sha256hex;..."``
or a file, one ``name:role:sha256hex`` a line); a presented token is hashed
and compared with every configured digest in constant time.  There is no
default credential: ``REPOLICY_DEV_MODE=1`` (development only, logged loudly)
adds the tokens ``dev-regulator``, ``dev-legal`` and ``dev-caller``.

The API takes the token in the ``Authorization`` header only.  The web pages
also accept a login session (api.web_security): a signed cookie that holds the
principal's name and a keyed fingerprint of its token's digest (never the
token), so that removing or changing a token ends its sessions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from flask import current_app, g, request, session

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
        log.warning(
            "DEVELOPMENT MODE: the well-known tokens %s are accepted; never use this in production",
            ", ".join(DEV_TOKENS),
        )
        tokens += [(name, role, token_digest(name)) for name, role in DEV_TOKENS.items()]
    return tokens


def token_fingerprint(digest: str) -> str:
    """What a session keeps of a token: an HMAC of its digest under the app's secret key."""
    return hmac.new(current_app.secret_key.encode("utf-8"), digest.encode("ascii"), hashlib.sha256).hexdigest()


def principal_of_token(token: str) -> Principal | None:
    """The configured principal whose token this is, compared with every digest in constant time."""
    presented = token_digest(token)
    found = None
    for name, role, digest in current_app.extensions["repolicy_tokens"]:
        if hmac.compare_digest(presented, digest) and found is None:  # no early exit: constant time
            found = Principal(name, role)
    return found


def _session_principal() -> Principal | None:
    """The principal of a live login session whose token is still configured (see api.web_security)."""
    name, fingerprint = session.get("principal"), session.get("key")
    if not isinstance(name, str) or not isinstance(fingerprint, str) or not session_live():
        return None
    found = None
    for entry_name, role, digest in current_app.extensions["repolicy_tokens"]:
        if hmac.compare_digest(token_fingerprint(digest), fingerprint) and entry_name == name and found is None:
            found = Principal(name, role)
    return found


def session_clock() -> float:
    """Now, in seconds since the epoch, for login sessions' expiry: the app's ``CLOCK`` config (a function;
    a test moves it past ``SESSION_HOURS`` instead of waiting) or else :func:`time.time`."""
    clock: Callable[[], float] = current_app.config.get("CLOCK") or time.time
    return clock()


def session_live() -> bool:
    """The session's own expiry (absolute: set at login, not extended by use) is still ahead."""
    expires = session.get("expires")
    return isinstance(expires, (int, float)) and session_clock() < expires


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def authenticate(session_ok: bool = False) -> Principal | None:
    """The principal of the bearer token; for the web pages (``session_ok``) else of the login session."""
    token = bearer_token()
    if token is not None:
        return principal_of_token(token)
    return _session_principal() if session_ok else None


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
                raise ApiError(
                    401,
                    "unauthorized",
                    "a bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="repolicy"'},
                )
            if principal.role not in roles:
                raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this; needs {' or '.join(roles)}")
            return view(*args, **kwargs)

        return inner

    return wrap
