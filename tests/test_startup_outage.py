"""A database down at start-up: the service serves the shipped rulesets, queues its decisions, and once the
database answers it seeds the registry, loads it, and writes every decision it queued meanwhile."""

from __future__ import annotations

import pytest

from helpers import example


@pytest.fixture()
def pg():
    from pg import Postgres

    server = Postgres()
    yield server
    server.stop()


def test_database_back_after_a_down_start_gets_every_queued_decision(pg):
    from api import create_app

    pg.halt()
    app = create_app({"DATABASE_URL": pg.url + "?connect_timeout=2", "OPEN_EVALUATE": True})
    client = app.test_client()
    ids = [client.post("/v1/evaluate", json=example("over-quota")).json["decision_id"] for _ in range(3)]
    ready = client.get("/readyz").json
    assert ready["status"] == "ready" and ready["database"].startswith("database unavailable at start-up")
    assert ready["decision_log_pending"] == 3 and "decision_log_error" in ready
    runtime = app.extensions["repolicy"]
    runtime.poll_once()  # still down: nothing changes, nothing lost
    assert runtime.store is None and app.extensions["repolicy_decisions"].pending == 3

    pg.start()
    runtime.poll_once()
    assert runtime.store is not None
    assert {r.ref for r in runtime.registry.all()} >= {"measures@draft", "notice@2021"}
    assert app.extensions["repolicy_decisions"].flush() is True
    for decision_id in ids:
        assert runtime.store.decision(decision_id)["violations"] == 1
    ready = client.get("/readyz").json
    assert ready["database"] == "ok" and ready["decision_log_pending"] == 0 and ready["decision_log_lost"] == 0
    later = client.post("/v1/evaluate", json=example("over-quota")).json["decision_id"]
    assert app.extensions["repolicy_decisions"].flush() is True and runtime.store.decision(later) is not None
