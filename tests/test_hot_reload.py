"""Two server processes (each with several gunicorn workers) share one registry database:
a version published and activated through one is served by both within 5 seconds, without restart."""

from __future__ import annotations

import time

import pytest

from helpers import FLOOR_3000, SMELTER_2500, auth, token_config
from servers import Server


def refs_used(server: Server) -> set[str]:
    status, body = server.request("POST", "/v1/evaluate", SMELTER_2500, {"Content-Type": "application/json"})
    assert status == 200, body
    return {f"{r['id']}@{r['version']}" for r in body["rulesets"]}


def wait_for(server: Server, ref: str, present: bool, limit: float = 5.0, settle: float = 1.5) -> float:
    """Seconds until every request (whichever worker serves it) shows ``ref`` used (or not), and keeps
    doing so for ``settle`` seconds: longer than the workers' poll interval, so that a worker not yet
    asked cannot hide behind one that has switched."""
    start = time.monotonic()
    since = None
    while time.monotonic() - start < limit + settle + 1:
        if (ref in refs_used(server)) == present:
            since = since or time.monotonic()
            if time.monotonic() - since >= settle:
                return since - start
        else:
            since = None
        time.sleep(0.02)
    raise AssertionError(f"{server.url} did not switch within {limit} s")


@pytest.fixture()
def servers(tmp_path):
    env = {
        "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "REPOLICY_RELOAD_INTERVAL": "0.5",
        "REPOLICY_TOKENS": token_config(),
        "REPOLICY_OPEN_EVALUATE": "1",
        "LOG_DIR": str(tmp_path),
    }
    started = []
    try:
        for _ in range(2):
            started.append(Server(env, workers=2))
        yield started
    finally:
        for s in started:
            s.stop()


def test_both_instances_switch_without_restart(servers):
    a, b = servers
    assert "notice@2021" in refs_used(a) and "notice@2021" in refs_used(b)
    status, body = a.request(
        "POST", "/v1/rulesets", FLOOR_3000.encode(), {**auth("regulator"), "Content-Type": "application/yaml"}
    )
    assert status == 201, body
    # repolicy-serve requires legal sign-off of the changed rules (maker-checker) before activation
    status, body = a.request("POST", "/v1/rulesets/notice/2021-floor3000/activate", b"", auth("regulator"))
    assert status == 409, body
    for rule in body["rules"]:
        status, signed = b.request(
            "POST",
            f"/v1/rules/notice@2021-floor3000/{rule['rule']}/approvals",
            {},
            {**auth("legal"), "Content-Type": "application/json"},
        )
        assert status == 201, signed
    status, body = a.request("POST", "/v1/rulesets/notice/2021-floor3000/activate", b"", auth("regulator"))
    assert status == 200, body
    for server in (a, b):
        assert wait_for(server, "notice@2021-floor3000", present=True) <= 5.0
        assert "notice@2021" not in refs_used(server)
    # roll back through the other instance
    status, body = b.request("POST", "/v1/rulesets/notice/2021/activate", b"", auth("regulator"))
    assert status == 200 and body["retired"] == ["notice@2021-floor3000"]
    for server in (a, b):
        assert wait_for(server, "notice@2021", present=True) <= 5.0
        assert "notice@2021-floor3000" not in refs_used(server)
