"""What keeps a browser that is logged in to the pages from being used by another site.

- The login is a Flask session (a cookie signed with the app's secret key, HTTP-only, SameSite=Strict,
  ``Secure`` when the request came over HTTPS), holding the principal's name, a keyed fingerprint of its
  token (api.auth) and an absolute expiry (``SESSION_HOURS``); ``POST /ui/logout`` ends it.
- Every unsafe request to the pages (POST: login, logout, sign-off, evaluate) must come from this site:
  an ``Origin`` (or, without one, a ``Referer``) of another origin, or ``Sec-Fetch-Site: cross-site``, is a
  403; and it must carry the form's CSRF token (flask-wtf), else 400.  A request with an
  ``Authorization: Bearer`` header is not cookie-authenticated and needs neither (a browser cannot add that
  header to a cross-site request).
- Every response says ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin`` and a Content-Security-Policy that allows no inline script (and, on
  the pages, no inline style: the style sheet is ``/static/repolicy.css``).
- ``next`` after login is only a path on this site (:func:`safe_next`).

The secret key is configuration (``SECRET_KEY``), else read from ``SECRET_KEY_FILE`` (by default
``var/secret_key``), which is created with a random key on first start.  The app is created in the
gunicorn master before the workers fork, so all workers share the key; the file keeps sessions across
restarts and across servers that share it.  If the file can be neither read nor created, a random key is
used for this process (sessions end when it stops) and a warning is logged.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from api.auth import bearer_token
from api.errors import ApiError, error_body

log = logging.getLogger(__name__)

csrf = CSRFProtect()

SESSION_COOKIE = "repolicy_session"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Swagger UI (/docs) sets styles from its script and draws icons from data: URLs; still no inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"
MIN_SECRET_CHARS = 32


def load_secret_key(config: dict[str, Any]) -> str:
    """The configured key, else the key file's (created when missing), else a per-process random key."""
    if config.get("SECRET_KEY"):
        if len(config["SECRET_KEY"]) < MIN_SECRET_CHARS:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_CHARS} characters")
        return config["SECRET_KEY"]
    path = Path(config["SECRET_KEY_FILE"])
    try:
        return _read_or_create(path)
    except OSError as exc:
        log.warning(
            "secret key file %s unusable (%s): a random key for this process only; page logins end "
            "when it stops (set REPOLICY_SECRET_KEY or a writable REPOLICY_SECRET_KEY_FILE)",
            path,
            exc,
        )
        return secrets.token_hex(32)


def _read_or_create(path: Path) -> str:
    """The key in ``path``; if there is none, a new random one written there whole (a temporary file
    linked into place: two servers starting at once never read a half-written key, and agree on one)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".secret_key-", dir=path.parent)  # mode 600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(tmp)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_SECRET_CHARS:
        raise OSError(f"holds fewer than {MIN_SECRET_CHARS} characters")
    return key


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, ``Secure`` per request under ``COOKIE_SECURE = auto``."""

    def open_session(self, app: Flask, request_):  # type: ignore[override]
        # Without the cookie (every API call) the session is empty: skip building the signing serializer,
        # which costs more than the rest of an echo request's Flask overhead.
        if self.get_cookie_name(app) not in request_.cookies:
            return self.session_class()
        return super().open_session(app, request_)

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        mode = str(app.config.get("COOKIE_SECURE", "auto")).lower()
        if mode == "auto":
            return request.is_secure
        return mode in ("1", "true", "yes", "on")


def _same_origin(url: str) -> bool:
    """``url`` (an Origin or a Referer) has this request's scheme, host and port."""
    try:
        theirs, ours = urlsplit(url), urlsplit(request.host_url)
        return (theirs.scheme, theirs.hostname, theirs.port or _default_port(theirs.scheme)) == (
            ours.scheme,
            ours.hostname,
            ours.port or _default_port(ours.scheme),
        )
    except ValueError:  # an unparsable port or host
        return False


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def check_same_site() -> None:
    """403 unless this unsafe request, carrying the page cookie, comes from a page of this site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if fetch_site in ("cross-site", "same-site"):
        reason = f"Sec-Fetch-Site is {fetch_site}"
    elif origin is not None:
        reason = None if _same_origin(origin) else "the Origin is another site"
    elif referer is not None:
        reason = None if _same_origin(referer) else "the Referer is another site"
    else:
        reason = None  # neither header (an older client or a privacy setting): the CSRF token decides
    if reason:
        raise ApiError(403, "cross_site_refused", f"a request from another site is refused ({reason})")


def protect_unsafe_request() -> None:
    """Origin and CSRF token checks of a page's unsafe request (a bearer-token request needs neither)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or bearer_token() is not None:
        return
    check_same_site()
    csrf.protect()


_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site (``/ui/...``), else ``default``.

    Refused: absolute URLs (``https://evil.example/``), scheme-relative ones (``//evil.example``), a
    backslash (browsers read ``/\\evil.example`` as ``//evil.example``), control characters (CR/LF would
    split the Location header).  ``%2F%2Fevil.example`` arrives decoded as ``//evil.example``.
    """
    if not target or not target.startswith("/") or target.startswith("//") or _CONTROL.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


_COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def _security_headers(response: Response) -> Response:
    """The headers of every response (no view sets them itself, so they are added without a look-up)."""
    if response.mimetype == "text/html":
        csp = DOCS_CSP if request.path == "/docs" else PAGE_CSP
    else:
        csp = OTHER_CSP
    response.headers.extend(_COMMON_HEADERS + (("Content-Security-Policy", csp),))
    return response


def install(app: Flask) -> None:
    """Session, CSRF protection (checked by the pages' blueprint, see api.ui), headers, proxy trust."""
    app.secret_key = load_secret_key(app.config)
    hours = float(app.config["SESSION_HOURS"])
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=hours),
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_CHECK_DEFAULT=False,  # the API is bearer-token only; the pages call protect_unsafe_request
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session (SESSION_HOURS)
    )
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    app.after_request(_security_headers)
    proxies = int(app.config.get("TRUST_PROXY") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        body = error_body(
            "csrf_failed",
            f"the form's CSRF token was refused ({exc.description}); reload the page and send the form again",
        )
        return current_app.json.response(body), 400
