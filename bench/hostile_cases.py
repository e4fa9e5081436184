"""Hostile-client reproductions, run against a server started from a given source tree, to compare before and
after side by side: a lone surrogate in an id; what another site can do with a reviewer's login cookie; the
security headers; where login's ``next`` redirects; deep JSON and YAML, a surrogate comment, a 5,000-digit YAML
integer (server and ``repolicy validate``); a chunked body over 8 MiB; gunicorn's 414 page; ``audit?limit=-1``.

usage: python bench/hostile_cases.py [SOURCE_TREE]   (default: this tree; e.g. a ``git archive`` of an older commit)
Prints one line a case: the status and the start of the answer.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(root, "tests"))
from servers import Server  # noqa: E402
from helpers import auth, token_config  # noqa: E402

tmp = tempfile.mkdtemp()
s = Server(
    {
        "REPOLICY_DATABASE_URL": f"sqlite:///{tmp}/r.db",
        "REPOLICY_TOKENS": token_config(),
        "REPOLICY_SECRET_KEY_FILE": f"{tmp}/k",
        "LOG_DIR": tmp,
        "REPOLICY_LOG_LEVEL": "WARNING",
    },
    workers=2,
    threads=1,
)


def send(method, path, body=b"", headers={}, chunked=False):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=120)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{s.port}", "Connection: close"] + [
        f"{k}: {v}" for k, v in headers.items()
    ]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        body = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)
            )
            + b"0\r\n\r\n"
        )
    else:
        head.append(f"Content-Length: {len(body)}")

    def w():
        try:
            sock.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)
        except OSError:
            pass

    t = threading.Thread(target=w, daemon=True)
    t.start()
    r = http.client.HTTPResponse(sock)
    r.begin()
    data = r.read()
    sock.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


RULE = "/v1/rules/notice@2021/eligibility.smelter-ineligible"


def n_approvals():
    return len(s.request("GET", RULE + "/approvals", headers=auth("legal"))[1].get("approvals", []))


J = {"Content-Type": "application/json"}
out = {}
st, _, b = send(
    "POST", "/v1/evaluate", b'{"facts": {"enterprises": [{"id": "\\ud800", "name": "x"}]}}', {**auth("caller"), **J}
)
out["2 surrogate id on /v1/evaluate"] = f"{st} {b[:90]!r}"
# 3: what a cross-site form can do with the reviewer's cookie
st, h, page = send("GET", "/ui/login")
m = re.search(rb'name="csrf_token" value="([^"]+)"', page)
c0 = h.get("set-cookie", "").split(";")[0]
form = b"token=legal-token-1" + (b"&csrf_token=" + m.group(1) if m else b"")
st, h, _ = send(
    "POST", "/ui/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": c0, "Origin": s.url}
)
cookie = h.get("set-cookie", "").split(";")[0]
out["3 login cookie"] = cookie[:60]
before = n_approvals()
st, h, _ = send(
    "POST",
    "/ui/rules/notice@2021/eligibility.smelter-ineligible/approve",
    b"comment=forged",
    {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Origin": "https://evil.example"},
)
out["3 cross-site sign-off with the cookie"] = f"{st}, approvals recorded: {n_approvals() - before}"
st, h, _ = send("POST", "/v1/rulesets/notice/2021/activate", b"", {"Cookie": cookie, "Origin": "https://evil.example"})
out["3 cross-site activation with the cookie (legal)"] = f"{st}"
st, h, page = send("GET", "/ui/login")
out["3 headers on /ui/login"] = {
    k: h.get(k) for k in ("content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options")
}
# 4
for nxt in ["https://evil.example/", "//evil.example/", "%2F%2Fevil.example", "/%5Cevil.example", "/ui/%0d%0aX:%20y"]:
    st, h, page = send("GET", "/ui/login")
    m = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    c0 = h.get("set-cookie", "").split(";")[0]
    form = b"token=legal-token-1" + (b"&csrf_token=" + m.group(1) if m else b"")
    st, h, _ = send(
        "POST",
        "/ui/login?next=" + nxt,
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": c0, "Origin": s.url},
    )
    out[f"4 next={nxt}"] = f"{st} -> {h.get('location')}"
# 5
deep = b"[" * 100000 + b"]" * 100000
st, _, b = send(
    "POST",
    "/ui/evaluate",
    b"request=" + deep.replace(b"[", b"%5B").replace(b"]", b"%5D"),
    {**auth("legal"), "Content-Type": "application/x-www-form-urlencoded"},
)
out["5 deep JSON /ui/evaluate"] = st
st, _, b = send("POST", RULE + "/approvals", deep, {**auth("legal"), **J})
out["5 deep JSON approvals"] = f"{st} {b[:80]!r}"
st, _, b = send("POST", "/v1/rulesets", deep, {**auth("regulator"), **J})
out["5 deep JSON published"] = f"{st} {b[:80]!r}"
st, _, b = send("POST", "/v1/rulesets", b"ruleset: x\nrules: " + b"[" * 100000, {**auth("regulator")})
out["5 deep YAML published"] = f"{st} {b[:100]!r}"
st, _, b = send("POST", RULE + "/approvals", b'{"comment": "\\ud800"}', {**auth("legal"), **J})
out["5 surrogate comment"] = f"{st} {b[:80]!r}"
big = b"ruleset: notice\nversion: 1\nbig: " + b"9" * 5000 + b"\n"
st, _, b = send("POST", "/v1/rulesets", big, {**auth("regulator")})
out["5 5000-digit YAML int"] = f"{st} {b[:120]!r}"
open(f"{tmp}/big.yaml", "wb").write(big)
run = subprocess.run(
    [sys.executable, "-m", "api.cli", "validate", f"{tmp}/big.yaml"],
    cwd=root,
    capture_output=True,
    text=True,
    env={**os.environ, "PYTHONPATH": root},
)
out["5 repolicy validate 5000-digit"] = (
    f"rc={run.returncode} traceback={'Traceback' in run.stderr} {run.stdout.strip()[-90:]!r}"
)
# 6
valid = open(os.path.join(root, "examples/over-quota.json"), "rb").read()
body = valid + b" " * (8 * 1024 * 1024 + 1 - len(valid))
st, _, b = send("POST", "/v1/evaluate", body, {**auth("caller"), **J}, chunked=True)
out["6 chunked 8 MiB + 1"] = f"{st} {b[:80]!r}"
st, h, b = send("GET", "/v1/" + "a" * 5000)
out["6 request line 5,000"] = f"{st} {h.get('content-type')} {b[:70]!r}"
# 8
for i in range(3):
    s.request("POST", "/v1/rulesets/notice/2021/activate", b"", headers=auth("regulator"))
st, b = s.request("GET", "/v1/audit?limit=-1", headers=auth("legal"))
out["8 audit limit=-1"] = f"{st} {len(b.get('entries', [])) if st == 200 else b}"
s.stop()
for k, v in out.items():
    print(f"{k}: {v}")
