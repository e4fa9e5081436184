"""The registry and decision log on PostgreSQL (by URL): two instances share it and switch together."""

from __future__ import annotations

import pytest

from helpers import FLOOR_3000, SMELTER_2500, auth, token_config
from pg import Postgres


@pytest.fixture(scope="module")
def pg():
    server = Postgres()
    yield server
    server.stop()


def test_two_instances_on_postgres(pg):
    from api import create_app

    config = {"DATABASE_URL": pg.url, "OPEN_EVALUATE": True, "TOKENS": token_config()}
    a, b = create_app(config).test_client(), create_app(config).test_client()  # second seeding is idempotent
    versions = a.get("/v1/rulesets", headers=auth("legal")).json["versions"]
    assert {(v["id"], v["version"], v["status"]) for v in versions} >= {("notice", "2021", "active")}
    assert len([v for v in versions if (v["id"], v["version"]) == ("notice", "2021")]) == 1

    first = b.post("/v1/evaluate", json=SMELTER_2500).json
    assert a.post("/v1/rulesets?activate=true", data=FLOOR_3000, headers=auth("regulator")).status_code == 201
    b.application.extensions["repolicy"].refresh()  # what its poller does every RELOAD_INTERVAL
    now = b.post("/v1/evaluate", json=SMELTER_2500).json
    assert [(v["ruleset"], v["rule"]) for v in now["violations"]] == [
        ("notice@2021-floor3000", "eligibility.smelter-ineligible")
    ]

    replay = a.post(f"/v1/decisions/{first['decision_id']}/replay", headers=auth("legal")).json
    assert replay["identical"] is True
    audit = b.get("/v1/audit", headers=auth("legal")).json["entries"]
    assert ("activate", "notice@2021-floor3000") in [(e["action"], e["ruleset"]) for e in audit]
    for client in (a, b):  # the server goes away after this module: stop these apps' pollers asking it
        client.application.extensions["repolicy"].store = None
