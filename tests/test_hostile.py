"""A hostile client against a real ``repolicy-serve`` (gunicorn, default configuration plus tokens): no
cross-site action with the page session, no redirect off-site after login, no 500 from any endpoint
whatever the body or query, chunked bodies held to the size limit, gunicorn's own errors in JSON.

Routes are walked from the application's url_map, so a new endpoint is covered without listing it here.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import ROOT, auth, example, token_config
from servers import Server

RULE = "/v1/rules/notice@2021/eligibility.smelter-ineligible"
RULE_PAGE = "/ui/rules/notice@2021/eligibility.smelter-ineligible"
MAX_BODY = 8 * 1024 * 1024  # the default REPOLICY_MAX_BODY_BYTES
DEEP_JSON = ("[" * 100_000 + "]" * 100_000).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    s = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}",
            "REPOLICY_TOKENS": token_config(),
            "REPOLICY_SECRET_KEY_FILE": str(tmp / "secret_key"),
            "LOG_DIR": str(tmp),
            "REPOLICY_LOG_LEVEL": "WARNING",
        },
        workers=2,
        threads=1,
    )
    yield s
    s.stop()


class Client:
    """A browser-like HTTP client: keeps cookies, follows no redirects, shows the raw answer."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port, self.origin = parts.hostname, parts.port, url
        self.cookies: dict[str, str] = {}

    def send(
        self, method: str, path: str, body: bytes | dict | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        if isinstance(body, dict):  # a form, url-encoded
            body = "&".join(f"{quote(k)}={quote(v)}" for k, v in body.items()).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            for value in resp.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
                if "Expires=Thu, 01 Jan 1970" in value:
                    del self.cookies[name]
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def csrf_token(self, path: str) -> str:
        status, _, page = self.send("GET", path)
        assert status == 200, (path, status)
        return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()

    def log_in(self, token: str) -> None:
        csrf = self.csrf_token("/ui/login")
        status, headers, _ = self.send(
            "POST", "/ui/login", {"token": token, "csrf_token": csrf}, {"Origin": self.origin}
        )
        assert status == 302, status


def approvals(server: Server) -> list[dict]:
    status, body = server.request("GET", RULE + "/approvals", headers=auth("legal"))
    assert status == 200
    return body.get("approvals", [])


def activations(server: Server) -> list[dict]:
    status, body = server.request("GET", "/v1/audit?limit=1000", headers=auth("regulator"))
    assert status == 200
    return [e for e in body["entries"] if e.get("action") == "activate"]


# ---------------------------------------------------------------- item 3: cross-site actions


def test_cross_site_sign_off_with_the_session_cookie_is_refused(server):
    browser = Client(server.url)
    browser.log_in("legal-token-1")
    assert "repolicy_session" in browser.cookies and "legal-token-1" not in browser.cookies["repolicy_session"]
    token = browser.csrf_token(RULE_PAGE)
    before = len(approvals(server))
    approve = RULE_PAGE + "/approve"
    # what another site's form can send: the cookie goes along, the token cannot be read from another origin
    assert browser.send("POST", approve, {"comment": "forged"}, {"Origin": "https://evil.example"})[0] == 403
    assert browser.send("POST", approve, {"comment": "forged"}, {"Referer": "https://evil.example/x"})[0] == 403
    assert browser.send("POST", approve, {"comment": "forged"}, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert browser.send("POST", approve, {"comment": "forged"})[0] == 400  # no Origin, no token
    assert browser.send("POST", approve, {"comment": "forged", "csrf_token": "x" + token[1:]})[0] == 400
    # even a token that leaked does not carry another site's request
    assert (
        browser.send("POST", approve, {"comment": "forged", "csrf_token": token}, {"Origin": "https://evil.example"})[0]
        == 403
    )
    assert len(approvals(server)) == before
    # the same form from the rule page itself is recorded (so the refusals above are not of everything)
    status, headers, _ = browser.send(
        "POST",
        approve,
        {"comment": "checked", "csrf_token": token},
        {"Origin": server.url, "Referer": server.url + RULE_PAGE},
    )
    assert status == 302 and headers["location"].endswith("#review")
    assert [a["comment"] for a in approvals(server)][-1:] == ["checked"]


def test_activation_and_api_sign_off_take_no_cookie(server):
    regulator = Client(server.url)
    regulator.log_in("reg-token-1")
    legal = Client(server.url)
    legal.log_in("legal-token-1")
    before, approved = len(activations(server)), len(approvals(server))
    status, _, body = regulator.send("POST", "/v1/rulesets/notice/2021/activate", b"", {"Origin": server.url})
    assert status == 401 and json.loads(body)["error"] == "unauthorized"
    status, _, _ = legal.send(
        "POST",
        RULE + "/approvals",
        b'{"comment": "forged"}',
        {"Content-Type": "application/json", "Origin": server.url},
    )
    assert status == 401
    # the old raw-token cookie is no credential either
    old = Client(server.url)
    old.cookies["repolicy_token"] = "legal-token-1"
    assert old.send("GET", RULE_PAGE)[0] == 302
    assert old.send("POST", RULE + "/approvals", b"{}", {"Content-Type": "application/json"})[0] == 401
    assert len(activations(server)) == before and len(approvals(server)) == approved
    # with the bearer token (not cookie-based, no CSRF token needed) the API acts
    status, body = server.request("POST", "/v1/rulesets/notice/2021/activate", b"", headers=auth("regulator"))
    assert status == 200 and body["activated"] == "notice@2021"
    assert len(activations(server)) == before + 1


def test_logout_ends_the_session_and_a_wrong_token_starts_none(server):
    browser = Client(server.url)
    csrf = browser.csrf_token("/ui/login")
    status, _, page = browser.send("POST", "/ui/login", {"token": "wrong", "csrf_token": csrf})
    assert status == 401 and b"login-failed" in page
    assert browser.send("GET", "/ui/")[0] == 302
    browser.log_in("legal-token-1")
    assert browser.send("GET", "/ui/")[0] == 200
    token = browser.csrf_token("/ui/")
    status, headers, _ = browser.send("POST", "/ui/logout", {"csrf_token": token}, {"Origin": server.url})
    assert status == 302 and "/ui/login" in headers["location"]
    assert "repolicy_session" not in browser.cookies
    assert browser.send("GET", "/ui/")[0] == 302


PAGES = [
    "/ui/",
    "/ui/instruments/notice-2021",
    "/ui/coverage/notice-2021",
    RULE_PAGE,
    "/ui/diff?old=notice@2021&new=notice@2021",
    "/ui/evaluate",
    "/ui/login",
    "/docs",
]


def test_pages_send_security_headers_and_hold_no_inline_script_or_style(server):
    browser = Client(server.url)
    browser.log_in("legal-token-1")
    for path in PAGES:
        status, headers, page = browser.send("GET", path)
        assert status == 200, path
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[-1].split(";")[0]
        assert "script-src" in csp or "default-src 'none'" in csp
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        html = page.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # every script is a file
        assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline event handlers
        if path != "/docs":
            assert "<style" not in html and not re.search(r"\sstyle\s*=", html), path
            for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S):
                assert 'name="csrf_token"' in form, path
    for asset in ("/static/repolicy.css", "/docs/init.js"):
        assert browser.send("GET", asset)[0] == 200


def test_session_cookie_is_secure_over_https_and_expires(tmp_path):
    from api import create_app

    base = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "TOKENS": token_config(),
        "SECRET_KEY_FILE": tmp_path / "key",
    }

    def login(app, **kw) -> tuple[Any, str]:
        client = app.test_client()
        page = client.get("/ui/login", **kw).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        # over HTTPS flask-wtf also wants a same-site Referer, which browsers send (Referrer-Policy same-origin)
        referer = {"Referer": (kw.get("base_url") or "http://localhost") + "/ui/login"}
        if kw.get("headers", {}).get("X-Forwarded-Proto") == "https":
            referer = {"Referer": "https://localhost/ui/login"}
        resp = client.post(
            "/ui/login",
            data={"token": "legal-token-1", "csrf_token": csrf},
            **{**kw, "headers": {**kw.get("headers", {}), **referer}},
        )
        assert resp.status_code == 302
        return client, resp.headers["Set-Cookie"]

    now = [time.time()]  # the app's clock for session expiry: moved by the test, not waited for
    app = create_app({**base, "SESSION_HOURS": 1, "CLOCK": lambda: now[0]})
    _, cookie = login(app)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    client, cookie = login(app, base_url="https://policy.example")
    assert "Secure" in cookie
    now[0] += 3600 - 1  # one second short of SESSION_HOURS: still logged in
    assert client.get("/ui/", base_url="https://policy.example").status_code == 200
    now[0] += 2  # past SESSION_HOURS: the token is asked again
    answer = client.get("/ui/", base_url="https://policy.example")
    assert answer.status_code == 302 and "/ui/login" in answer.headers["Location"]
    behind_proxy = create_app({**base, "TRUST_PROXY": 1})  # TLS ends at the proxy, which says so
    _, cookie = login(behind_proxy, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in cookie
    _, cookie = login(create_app({**base, "COOKIE_SECURE": "true"}))
    assert "Secure" in cookie
    # the generated key was kept in the file, so another process (or worker, or restart) shares it
    assert (tmp_path / "key").read_text().strip() == app.secret_key == behind_proxy.secret_key


# ---------------------------------------------------------------- item 4: redirect after login

OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "/\\evil.example",
    "%5C%5Cevil.example",
    "/%5Cevil.example",
    "https:evil.example",
    "\\\\evil.example",
    "%09//evil.example",
    " //evil.example",
    "/ui/%0d%0aSet-Cookie:%20x=y",
    "/ui/\r\nX: y",
    "javascript:alert(1)",
    "%2F%2F%2Fevil.example",
    "http://127.0.0.1:1/",
]


def test_login_never_redirects_off_site(server):
    for target in OFF_SITE:
        browser = Client(server.url)
        csrf = browser.csrf_token("/ui/login")
        path = "/ui/login?next=" + target.replace("\r", "%0d").replace("\n", "%0a").replace(" ", "%20")
        status, headers, _ = browser.send(
            "POST", path, {"token": "legal-token-1", "csrf_token": csrf}, {"Origin": server.url}
        )
        assert status == 302, target
        location = headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")) and "evil" not in location, (
            target,
            location,
        )
    browser = Client(server.url)  # a page on the site is where the login goes back to
    csrf = browser.csrf_token("/ui/login")
    status, headers, _ = browser.send(
        "POST", "/ui/login?next=/ui/coverage/notice-2021%3Flang%3Den", {"token": "legal-token-1", "csrf_token": csrf}
    )
    assert status == 302 and headers["location"] == "/ui/coverage/notice-2021?lang=en"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.one_of(
        st.text(), st.text().map(lambda t: "/" + t), st.text().map(lambda t: "//" + t), st.sampled_from(OFF_SITE)
    )
)
def test_safe_next_is_a_path_on_this_site(target):
    from api.web_security import safe_next
    from flask import Flask

    with Flask(__name__).test_request_context("/ui/login"):
        chosen = safe_next(target, "/ui/")
    parts = urlsplit(chosen)
    assert chosen == "/ui/" or chosen == target
    assert chosen.startswith("/") and not chosen.startswith("//") and not parts.scheme and not parts.netloc
    assert "\\" not in chosen and not re.search(r"[\x00-\x1f\x7f]", chosen)


# ---------------------------------------------------------------- item 5 and 8: no 500, whatever comes in

SAMPLE_PARAMS = {
    "ref": "notice@2021",
    "rule_id": "eligibility.smelter-ineligible",
    "rid": "notice",
    "version": "2021",
    "instrument_id": "notice-2021",
    "eid": "art_1",
    "decision_id": "0" * 32,
    "name": "swagger-ui.css",
    "filename": "repolicy.css",
    "revision": "1",
    "job_id": "0" * 32,
}
HOSTILE_BODIES = {
    "deep JSON": DEEP_JSON,
    "deep JSON object": ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(),
    "lone surrogate": b'{"comment": "\\ud800", "facts": {"enterprises": [{"id": "\\udc00", "name": "x"}]}}',
    "lone surrogate key": b'{"\\ud800": 1}',
    "huge integer": b'{"comment": ' + b"9" * 5000 + b', "facts": {"production": [{"quantity": ' + b"9" * 5000 + b"}]}}",
    "wrong types": b'{"comment": [1], "facts": [], "as_of": 5, "rulesets": "x"}',
    "not an object": b'["x", null, true]',
    "NaN": b'{"facts": {"production": [{"quantity": NaN}]}}',
    "not UTF-8": b"\xff\xfe{\x00",
    "NUL": b'{"comment": "a\\u0000b"}',
    "deep YAML": ("ruleset: x\nrules: " + "[" * 100_000 + "]" * 100_000).encode(),
    "deep YAML block": ("ruleset: x\nrules:\n" + "".join("  " * i + "- \n" for i in range(1, 200))).encode(),
    "huge YAML integer": b"ruleset: notice\nversion: 1\nbig: " + b"9" * 5000 + b"\n",
    "YAML surrogate": b'ruleset: "\\ud800"\nversion: "1"\n',
    "empty": b"",
}
HOSTILE_QUERIES = [
    "limit=-1",
    "limit=0",
    "limit=1e3",
    "limit=99999999999999999999999",
    "after=-5",
    "after=99999999999999999999",
    "limit=%EF%BC%91",
    "explain=%00",
    "format=%ff",
    "comment=a%00b",
    "next=//evil.example",
    "lang=%0d%0a",
    "activate=%ff",
    "file=%00",
]


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every endpoint of the application, path parameters filled with real values."""
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", SAMPLE_PARAMS[arg], path)
        out += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def test_every_endpoint_refuses_hostile_input_without_a_500(server, app):
    found = routes(app)
    assert ("POST", "/v1/evaluate") in found and ("POST", RULE + "/approvals") in found
    assert ("POST", "/ui/evaluate") in found and ("POST", "/v1/rulesets") in found
    failures = []
    for method, path in found:
        for role in ("legal", "regulator"):
            headers = {**auth(role), "Content-Type": "application/json"}
            cases = [(name, body) for name, body in HOSTILE_BODIES.items()] if method != "GET" else [("", None)]
            for name, body in cases:
                if path == "/ui/evaluate" and body is not None:  # the page's form field holds the text
                    form = "request=" + quote(body.decode("utf-8", "replace"))
                    status, text = _send(
                        server,
                        method,
                        path,
                        form.encode(),
                        {**auth(role), "Content-Type": "application/x-www-form-urlencoded"},
                    )
                else:
                    status, text = _send(server, method, path, body, headers)
                if status >= 500:
                    failures.append((method, path, role, name, status, text[:200]))
                elif status >= 400 and path.startswith("/v1/"):
                    answer = json.loads(text)
                    assert answer["error"] and answer["message"], (method, path, name, answer)
            for query in HOSTILE_QUERIES:
                status, text = _send(server, method, f"{path}?{query}", b"{}" if method != "GET" else None, headers)
                if status >= 500:
                    failures.append((method, path, role, query, status, text[:200]))
    assert not failures, failures


def _send(
    server: Server, method: str, path: str, body: bytes | None, headers: dict, chunked: bool = False
) -> tuple[int, str]:
    """One request on its own connection; the body is sent from a thread while the answer is read, so an
    answer the server gives before reading the whole body (a 413, a 401) is seen as a client would."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    payload = body or b""
    if chunked:
        head.append("Transfer-Encoding: chunked")
        payload = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(payload[i : i + 65536]), payload[i : i + 65536])
                for i in range(0, len(payload), 65536)
            )
            + b"0\r\n\r\n"
        )
    elif body is not None:
        head.append(f"Content-Length: {len(body)}")

    def write() -> None:
        try:
            sock.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + payload)
        except OSError:  # the server answered and closed before taking it all
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        sock.close()
        writer.join(30)


@pytest.mark.parametrize(
    "name,body,path",
    [
        ("deep JSON on the evaluate page", None, "/ui/evaluate"),
        ("deep JSON sign-off", DEEP_JSON, RULE + "/approvals"),
        ("deep JSON ruleset", DEEP_JSON, "/v1/rulesets"),
        ("surrogate comment", b'{"comment": "\\ud800"}', RULE + "/approvals"),
        ("surrogate id", b'{"facts": {"enterprises": [{"id": "\\ud800", "name": "x"}]}}', "/v1/evaluate"),
        ("5,000-digit YAML integer", HOSTILE_BODIES["huge YAML integer"], "/v1/rulesets"),
        ("deep YAML", HOSTILE_BODIES["deep YAML"], "/v1/rulesets"),
    ],
)
def test_the_reported_500s_are_4xx_with_a_clear_message(server, name, body, path):
    role = "regulator" if path == "/v1/rulesets" else "legal"
    if body is None:
        form = "request=" + quote(DEEP_JSON.decode())
        status, text = _send(
            server, "POST", path, form.encode(), {**auth(role), "Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 400 and "nesting too deep" in text
        return
    status, text = _send(server, "POST", path, body, {**auth(role), "Content-Type": "application/json"})
    answer = json.loads(text)
    if path == "/v1/rulesets":
        assert status == 422, answer
        issue = answer["issues"][0]
        assert issue["line"] >= 1 and re.search(r"digits|nested|deep", issue["message"]), issue
    else:
        assert status == 400, answer
        if b"ud800" in body:
            paths = [e["path"] for e in answer["errors"]]
            assert paths == (["comment"] if "comment" in path or "approvals" in path else ["facts.enterprises.0.id"])
            assert "surrogate" in answer["errors"][0]["message"]
        else:
            assert answer["errors"] == [{"path": "$", "message": "nesting too deep"}]


def test_audit_paging_parameters_are_validated(server):
    for query in (
        "limit=-1",
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=1.5",
        "limit=%201",
        "after=-1",
        "after=99999999999999999999",
    ):
        status, body = server.request("GET", f"/v1/audit?{query}", headers=auth("legal"))
        name = query.split("=")[0]
        assert status == 400 and body["errors"][0]["path"] == f"?{name}", (query, body)
    status, body = server.request("GET", "/v1/audit?limit=1", headers=auth("legal"))
    assert status == 200 and len(body["entries"]) <= 1


# ---------------------------------------------------------------- lone surrogates, anywhere in a request


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_lone_surrogate_anywhere_is_a_400_naming_its_path(client, data):
    body = example(data.draw(st.sampled_from(["over-quota", "compliant-group", "late-report-and-small-smelter"])))
    places = list(_string_places(body))
    path, container, key = data.draw(st.sampled_from(places))
    half = chr(data.draw(st.integers(0xD800, 0xDFFF)))
    text = container[key]
    cut = data.draw(st.integers(0, len(text)))
    container[key] = text[:cut] + half + text[cut:]
    raw = json.dumps(body, ensure_ascii=True)  # the escape \udXXX: how a client sends it
    resp = client.post("/v1/evaluate", data=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.json
    assert resp.json["errors"] == [{"path": path, "message": resp.json["errors"][0]["message"]}]
    assert "surrogate" in resp.json["errors"][0]["message"]
    # a valid pair (an astral character) in the same place is text like any other
    container[key] = text[:cut] + "\U0001f600" + text[cut:]
    assert (
        client.post(
            "/v1/evaluate", data=json.dumps(body, ensure_ascii=True), headers={"Content-Type": "application/json"}
        ).status_code
        < 500
    )


def _string_places(value: Any, path: str = ""):
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        child_path = f"{path}.{key}" if path else str(key)
        if isinstance(child, str):
            yield child_path, value, key
        else:
            yield from _string_places(child, child_path)


# ---------------------------------------------------------------- item 6: size limits that hold


def _chunked(server: Server, body: bytes) -> tuple[int, dict]:
    status, text = _send(
        server, "POST", "/v1/evaluate", body, {**auth("caller"), "Content-Type": "application/json"}, chunked=True
    )
    return status, json.loads(text or "{}")


def test_a_chunked_body_over_the_limit_is_413_like_a_declared_one(server):
    valid = json.dumps(example("over-quota")).encode()
    status, answer = _chunked(server, valid + b" " * (MAX_BODY + 1 - len(valid)))  # the excess is whitespace
    assert status == 413 and answer["error"] == "payload_too_large", answer
    status, text = _send(
        server,
        "POST",
        "/v1/evaluate",
        valid + b" " * (MAX_BODY + 1 - len(valid)),
        {**auth("caller"), "Content-Type": "application/json"},
    )
    assert status == 413 and json.loads(text)["error"] == "payload_too_large"
    status, answer = _chunked(server, valid + b" " * (MAX_BODY - len(valid)))  # exactly at the limit: evaluated
    assert status == 200 and answer["summary"]["violations"] >= 1
    status, answer = _chunked(server, valid)
    assert status == 200 and answer["summary"]["violations"] >= 1


def _raw(server: Server, data: bytes) -> tuple[int, str, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    content_type = re.search(rb"(?im)^content-type:\s*([^\r\n;]+)", head).group(1).decode()
    return status, content_type, body


def test_the_servers_own_errors_are_json(server):
    cases = {
        414: b"GET /v1/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        431: b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
        400: b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    }
    for expected, request in cases.items():
        status, content_type, body = _raw(server, request)
        assert status == expected and content_type == "application/json", (expected, status, body[:200])
        answer = json.loads(body)
        assert answer["error"] and answer["message"]
    assert server.request("GET", "/healthz")[0] == 200


# ---------------------------------------------------------------- the command line


def test_repolicy_validate_reports_a_huge_integer_without_a_traceback(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(HOSTILE_BODIES["huge YAML integer"])
    deep = tmp_path / "deep.yaml"
    deep.write_bytes(HOSTILE_BODIES["deep YAML block"])
    run = subprocess.run(
        [sys.executable, "-m", "api.cli", "validate", str(path), str(deep)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert f"{path}:3:6: integer of 5000 digits" in run.stdout
    assert f"FAIL {deep}" in run.stdout and "nested more than" in run.stdout


@pytest.mark.parametrize(
    "text,line,words",
    [
        ('a: 1\nb: "\\ud800"\n', 2, "surrogate"),
        ('a: 1\n"x\\udfff": 2\n', 2, "surrogate"),
        ("a:\n  b: .nan\n", 2, "not a finite number"),
        ("a: [1.0e+999]\n", 1, "not a finite number"),
        ("a: 1\nb: -" + "9" * 19 + "\n", 2, "19 digits"),
        ("a: " + "[" * 65 + "]" * 65 + "\n", 1, "nested more than 64"),
    ],
)
def test_ruleset_yaml_refuses_what_cannot_be_carried_with_its_line(text, line, words):
    from policy.yamlsource import YamlSourceError, load_yaml

    with pytest.raises(YamlSourceError) as caught:
        load_yaml(text)
    assert words in caught.value.message and caught.value.location.line == line


def test_ruleset_yaml_still_reads_what_is_valid():
    from policy.yamlsource import load_yaml

    # (a YAML \u escape is one code point: an emoji is written \U0001F600; PyYAML does not pair \ud83d\ude00)
    text = "a: " + "9" * 18 + '\nb: -1.5e+3\nc: "\\U0001F600 稀土"\nd: ' + "[" * 60 + "]" * 60 + "\n"
    doc = load_yaml(text)
    assert doc["a"] == 10**18 - 1 and doc["b"] == -1500.0 and doc["c"] == "\U0001f600 稀土"
