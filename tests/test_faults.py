"""Faults: the database going away and coming back, an engine error in one request.

- The decision log never makes evaluation wait on the database, writes in
  batches, keeps rows while the database is down and writes each exactly once
  when it is back; a real gunicorn server on a real PostgreSQL that is stopped
  mid-run and restarted loses no decision and answers every evaluation.
- The registry poller reports an outage once, not at every poll.
- An evaluation that fails inside the engine answers 500 with its decision id
  and leaves nothing behind in the engine: the next requests are answered
  correctly, on the same durable_rules handles.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from api.decision_log import DecisionLog
from helpers import SMELTER_2500, example, logged_ids, token_config, wait_until
from api.runtime import Runtime
from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR, Registry

# ---------------------------------------------------------------------------------------------- fakes


class FakeStore:
    """The decision part of :class:`policy.store.Store` in memory, with a switch to be down."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.transactions: list[int] = []  # rows per committed transaction
        self.down = False
        self.lose_ack = 0  # commit, then fail as if the connection dropped before the acknowledgement
        self.gate: threading.Event | None = None  # when set, a write waits for it
        self.attempts = 0  # writes tried, failed or not

    def record_decisions(self, items: list[dict]) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        self.attempts += 1
        if self.down:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database unavailable"))
        if any(r["decision_id"] in self.rows for r in items):
            raise IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint"))
        self.rows.update({r["decision_id"]: r for r in items})
        self.transactions.append(len(items))
        if self.lose_ack:
            self.lose_ack -= 1
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost"))

    def decision(self, decision_id: str) -> dict | None:
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("database unavailable"))
        return self.rows.get(decision_id)


def result(n: int) -> dict:
    return {
        "decision_id": f"d{n:05d}",
        "as_of": "2021-12-31",
        "violations": [],
        "summary": {},
        "rulesets": [{"id": "notice", "version": "2021", "digest": "sha256:x"}],
    }


# ---------------------------------------------------------------------------------------------- decision log


def test_record_does_not_wait_for_the_database_and_batches_what_accumulated():
    store = FakeStore()
    store.gate = threading.Event()  # the database takes its time
    dlog = DecisionLog(store)
    t0 = time.perf_counter()
    for n in range(200):
        dlog.record({"facts": {}}, result(n), "caller")
    assert time.perf_counter() - t0 < 1.0  # no write waited (each write takes until the gate opens)
    assert dlog.pending == 200 and dlog.find("d00150")["result"]["decision_id"] == "d00150"
    store.gate.set()
    assert wait_until(lambda: dlog.pending == 0)
    assert len(store.rows) == 200
    assert len(store.transactions) <= 3  # the first row alone, then what accumulated meanwhile
    dlog.close()


def test_database_down_rows_kept_retried_and_written_exactly_once(caplog):
    store = FakeStore()
    store.down = True
    dlog = DecisionLog(store, retry_max=0.2)
    with caplog.at_level(logging.INFO, logger="api.decision_log"):
        for n in range(30):
            dlog.record({"facts": {}}, result(n), None)
        assert wait_until(lambda: store.attempts >= 3)  # several retries fail
        assert dlog.pending == 30 and dlog.lost == 0 and store.rows == {}
        assert dlog.status() == {
            "decision_log_pending": 30,
            "decision_log_lost": 0,
            "decision_log_quarantined": 0,
            "decision_log_error": "database unavailable; records kept for retry",
        }
        assert dlog.find("d00007") is not None
        store.lose_ack = 1  # the first write after recovery commits but its acknowledgement is lost
        store.down = False
        assert wait_until(lambda: dlog.pending == 0)
    assert sorted(store.rows) == [f"d{n:05d}" for n in range(30)] and dlog.lost == 0
    assert sum(store.transactions) == 30  # each row committed once: the retry found them there
    # the decision log's own warnings (a runtime left by another test may log its registry outage meanwhile)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "api.decision_log"]
    assert len(warnings) == 1 and "decision log database unavailable" in warnings[0].getMessage()
    assert any(r.levelno == logging.INFO and "available again" in r.getMessage() for r in caplog.records)
    dlog.close()


def test_beyond_max_pending_the_oldest_are_lost_counted_and_logged(caplog):
    store = FakeStore()
    store.down = True
    dlog = DecisionLog(store, max_pending=10, retry_max=0.2)
    with caplog.at_level(logging.ERROR, logger="api.decision_log"):
        for n in range(15):
            dlog.record({"facts": {}}, result(n), None)
    assert dlog.pending == 10 and dlog.lost == 5 and dlog.status()["decision_log_lost"] == 5
    assert any("lost" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    store.down = False
    assert dlog.flush() is True
    assert sorted(store.rows) == [f"d{n:05d}" for n in range(5, 15)]  # the newest kept
    dlog.close()


def test_close_writes_the_queue_or_names_what_it_could_not(caplog):
    store = FakeStore()
    store.gate = threading.Event()
    dlog = DecisionLog(store)
    for n in range(5):
        dlog.record({"facts": {}}, result(n), None)
    store.gate.set()
    assert dlog.close(timeout=5) is True and len(store.rows) == 5

    down = FakeStore()
    down.down = True
    dlog = DecisionLog(down)
    dlog.record({"facts": {}}, result(99), None)
    with caplog.at_level(logging.ERROR, logger="api.decision_log"):
        assert dlog.close(timeout=0.5) is False
    assert dlog.lost == 1 and any("d00099" in r.getMessage() for r in caplog.records)


def test_without_a_database_the_log_says_so_and_counts_what_it_did_not_record(caplog):
    with caplog.at_level(logging.WARNING, logger="api.decision_log"):
        dlog = DecisionLog(None, "full")
    assert any("decisions are not recorded" in r.getMessage() for r in caplog.records)
    dlog.record({"facts": {}}, result(1), None)
    assert dlog.status() == {
        "decision_log_pending": 0,
        "decision_log_lost": 0,
        "decision_log_quarantined": 0,
        "decision_log_unrecorded": 1,
    }
    assert DecisionLog(None, "off").status() == {
        "decision_log_pending": 0,
        "decision_log_lost": 0,
        "decision_log_quarantined": 0,
    }


# ---------------------------------------------------------------------------------------------- poller


class FlakyRegistryStore:
    """A registry store whose database can go away: generation() is what the poller asks first."""

    def __init__(self) -> None:
        self.down = False

    def generation(self) -> int:
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))
        return 1

    def all_versions(self) -> list:
        return []

    def current_instruments(self) -> list:
        return []


def test_poller_reports_an_outage_once_a_minute_and_its_end(caplog, instruments):
    store = FlakyRegistryStore()
    runtime = Runtime(instruments, Registry(), store)  # type: ignore[arg-type]
    now = [1000.0]
    runtime.registry_outage.clock = lambda: now[0]
    with caplog.at_level(logging.DEBUG, logger="api.runtime"):
        runtime.poll_once()
        store.down = True
        for _ in range(100):  # 100 polls over 50 s: one warning
            runtime.poll_once()
            now[0] += 0.5
        assert runtime.last_refresh_error.startswith("OperationalError")
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "registry database unavailable" in warnings[0]
        assert "connection refused" in warnings[0]
        now[0] += 15  # past a minute: one reminder
        runtime.poll_once()
        runtime.poll_once()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2 and "still unavailable after 65 s" in warnings[1]
        store.down = False
        runtime.poll_once()
        runtime.poll_once()
    assert runtime.last_refresh_error is None
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "registry database available again after 65.0 s" in infos[0]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


# ---------------------------------------------------------------------------------------------- engine errors


def violation_keys(body: dict) -> list[tuple]:
    return sorted((v["ruleset"], v["rule"], v["subject"]["id"], v.get("period")) for v in body["violations"])


@pytest.fixture()
def fault_app(tmp_path):
    from api import create_app

    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "OPEN_EVALUATE": True, "TOKENS": token_config()}
    )


def test_an_error_in_the_evaluator_is_a_500_with_ids_and_later_requests_are_answered(fault_app, caplog, monkeypatch):
    from engine.evaluator import Engine

    client = fault_app.test_client()
    good = client.post("/v1/evaluate", json=example("over-quota")).json
    real = Engine.evaluate
    calls = []

    def fail_once(self, request_facts, as_of):
        calls.append(self.ruleset.ref)
        if len(calls) == 1:
            raise ZeroDivisionError("injected")
        return real(self, request_facts, as_of)

    monkeypatch.setattr(Engine, "evaluate", fail_once)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        r = client.post("/v1/evaluate", json=example("over-quota"), headers={"X-Request-Id": "req-7"})
    assert r.status_code == 500 and r.is_json
    body = r.get_json()
    assert body["error"] == "internal_error" and body["request_id"] == "req-7"
    assert len(body["decision_id"]) == 32 and r.headers["X-Decision-Id"] == body["decision_id"]
    assert r.headers["X-Request-Id"] == "req-7"
    logged = [rec for rec in caplog.records if rec.name == "api.errors"]
    assert len(logged) == 1 and logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError
    assert body["decision_id"] in logged[0].getMessage() and logged[0].decision_id == body["decision_id"]
    assert any(n.startswith("while evaluating ") for n in logged[0].exc_info[1].__notes__)

    for _ in range(3):
        again = client.post("/v1/evaluate", json=example("over-quota"))
        assert again.status_code == 200 and violation_keys(again.json) == violation_keys(good)
        assert again.json["decision_id"] != body["decision_id"]


@pytest.mark.parametrize("where", ["assert_facts", "complete_and_start_action"])
def test_a_durable_rules_failure_mid_evaluation_leaves_no_session_state(fault_app, monkeypatch, where):
    """The C core fails after the facts are asserted (or after a first action started): the session's
    state is deleted all the same, on every handle, and the same handles then answer correctly."""
    import durable_rules_engine as core
    from engine import durable_driver, evaluator

    client = fault_app.test_client()
    expected = {
        name: violation_keys(client.post("/v1/evaluate", json=body).json)
        for name, body in (("over-quota", example("over-quota")), ("late", example("late-report-and-small-smelter")))
    }
    assert expected["over-quota"] and expected["late"]

    sids: list[str] = []
    real_sid = evaluator.new_session_id
    monkeypatch.setattr(evaluator, "new_session_id", lambda: sids.append(real_sid()) or sids[-1])
    failed = []

    class FailingCore:
        def __getattr__(self, name):
            return getattr(core, name)

    def fail_once(*args):
        out = getattr(core, where)(*args)  # the C core has done its part: state exists
        if not failed:
            failed.append(where)
            raise core.error("injected failure")
        return out

    failing = FailingCore()
    setattr(failing, where, fail_once)
    monkeypatch.setattr(durable_driver, "_core", failing)

    r = client.post("/v1/evaluate", json=example("over-quota"))
    assert failed == [where]
    assert r.status_code == 500 and r.json["decision_id"] == r.headers["X-Decision-Id"]
    handles = [h._handle for eng in fault_app.extensions["repolicy"]._engines.values() for _, h in eng._units]
    for sid in sids:
        for handle in handles:
            with pytest.raises(core.error, match="309"):  # no such state: nothing left behind
                core.get_state(handle, sid)

    for _ in range(2):
        for name, body in (("over-quota", example("over-quota")), ("late", example("late-report-and-small-smelter"))):
            again = client.post("/v1/evaluate", json=body)
            assert again.status_code == 200 and violation_keys(again.json) == expected[name]


# ---------------------------------------------------------------------------------------------- real servers

BODIES = [example("over-quota"), example("compliant-group"), example("late-report-and-small-smelter"), SMELTER_2500]


@pytest.fixture(scope="module")
def pg():
    from pg import Postgres

    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def expected_keys():
    local = Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)
    from api.evaluate_input import request_as_of, validate_request

    out = []
    for body in BODIES:
        data = validate_request(json.loads(json.dumps(body)), 100_000)
        out.append(violation_keys(local.evaluate(data["facts"], request_as_of(data), data.get("rulesets"))))
    return out


def start_server(tmp_path, pg, expected: list, **env):
    """A 2 x 2 gunicorn server on ``pg``, warmed up: returns it and the decision ids of the warm-up, once written.

    The warm-up requests go one at a time: api/metrics.py creates its metric objects on first use without a
    lock, and two first requests at once in a fresh worker can fail there (DuplicateTimeseries), which is
    not the fault under test here.
    """
    from servers import Server

    server = Server(
        {
            "REPOLICY_DATABASE_URL": pg.url,
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_TOKENS": token_config(),
            "REPOLICY_RELOAD_INTERVAL": "60",  # only the decision log's own writer writes rows
            **env,
        },
        workers=2,
        threads=2,
    )
    warm = []
    for i in range(10):
        status, body = server.request(
            "POST", "/v1/evaluate", BODIES[i % len(BODIES)], {"Content-Type": "application/json"}
        )
        assert status == 200, body
        warm.append(body["decision_id"])
    assert wait_until(lambda: set(warm) <= set(logged_ids(pg.url)), 5)  # written without being asked
    return server, warm


def evaluate_many(server, n: int, expected: list) -> list[str]:
    """``n`` evaluations from 4 clients; each must answer 200 with its own request's violations."""

    def one(i: int) -> str:
        k = i % len(BODIES)
        status, body = server.request("POST", "/v1/evaluate", BODIES[k], {"Content-Type": "application/json"})
        assert status == 200, body
        assert violation_keys(body) == expected[k]
        return body["decision_id"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


def outage_warnings(server) -> list[dict]:
    """The decision log's outage warnings in ``server``'s log: one per worker at most."""
    return [entry for entry in server.log_entries() if entry["message"].startswith("decision log database unavailable")]


def test_postgres_stopped_mid_run_loses_no_decision(pg, tmp_path, expected_keys):
    before = set(logged_ids(pg.url))
    server, ids = start_server(tmp_path, pg, expected_keys, REPOLICY_DECISION_LOG_RETRY_MAX="0.5")
    try:
        ids += evaluate_many(server, 20, expected_keys)
        assert wait_until(lambda: set(ids) <= set(logged_ids(pg.url)), 5)

        pg.halt()
        for _ in range(4):
            ids += evaluate_many(server, 8, expected_keys)  # evaluation does not need the database
        # the writers find the database gone (and go on retrying while the test runs)
        assert wait_until(lambda: outage_warnings(server), 10)

        def reports_outage() -> bool:
            status, ready = server.request("GET", "/readyz")
            return (
                status == 200
                and ready["status"] == "ready"
                and ready["database"].startswith("unreachable")
                and ready.get("decision_log_pending", 0) > 0
            )

        assert wait_until(reports_outage, 5)
        status, decision = server.request(
            "GET", f"/v1/decisions/{ids[-1]}", headers={"Authorization": "Bearer legal-token-1"}
        )
        assert status in (200, 503), decision  # its own worker has it queued; the other cannot read the store

        pg.start()
        ids += evaluate_many(server, 10, expected_keys)

        def all_written() -> bool:
            return sorted(set(logged_ids(pg.url)) - before) == sorted(ids)

        assert wait_until(all_written, 10), set(ids) - set(logged_ids(pg.url))
        assert len(set(ids)) == len(ids) >= 70
        assert len(logged_ids(pg.url)) == len(before) + len(ids)  # nothing twice

        def ready_again() -> bool:
            answers = [server.request("GET", "/readyz")[1] for _ in range(6)]  # both workers, most likely
            return all(
                a["database"] == "ok" and not a.get("decision_log_pending") and not a.get("decision_log_lost")
                for a in answers
            )

        assert wait_until(ready_again, 5)
    finally:
        server.stop()
    outage = outage_warnings(server)
    lines = server.log_entries()
    assert 1 <= len(outage) <= 2 and all(entry["level"] == "WARNING" for entry in outage)  # one per worker at most
    assert not [entry for entry in outage if "INSERT" in entry["message"]]  # no SQL, no enterprise data
    assert not [entry for entry in lines if entry["level"] == "ERROR"]


def test_graceful_stop_writes_the_queue(pg, tmp_path, expected_keys):
    """Rows queued while the database was down are written when the server stops, not lost."""
    server, _ = start_server(tmp_path, pg, expected_keys, REPOLICY_DECISION_LOG_RETRY_MAX="60")  # long backoff
    try:
        before = set(logged_ids(pg.url))
        pg.halt()
        ids = evaluate_many(server, 12, expected_keys)
        assert wait_until(lambda: outage_warnings(server))  # a writer failed and is backing off
        pg.start()
    finally:
        server.stop()  # SIGTERM: each worker writes its queue on the way out
    assert set(logged_ids(pg.url)) - before == set(ids)
