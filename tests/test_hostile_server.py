"""Hostile clients against a real ``repolicy-serve`` (gunicorn, default configuration), and the decision
log under poisoned records, crashes and a database that goes away.

- A record that cannot be written (a lone surrogate, an object JSON cannot hold) is quarantined: kept
  aside in a file, counted in /readyz and /metrics, logged with its decision id; the writer goes on.
- 8 stalled clients (headers and one byte of a 1 MB body) do not stop /healthz or evaluation; a stalled
  body is cut off at the read timeout (408); a chunked body over the limit is refused (413).
- Durable decision log: a worker killed with SIGKILL under load, and PostgreSQL stopped and then the whole
  server killed, lose no answered decision (the spool is replayed).
- Amplification: violations and response bytes bounded and marked, citation texts sent once, large
  inputs stored compressed, a per-caller rate limit, a worker over its memory ceiling recycled.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from sqlalchemy import create_engine, text

from api.decision_log import DecisionLog
from helpers import example, load, logged_ids as logged_id_list, unread_bytes, wait_until, workers_of
from policy.store import Store
from servers import Server


def logged_ids(url: str) -> set[str]:
    return set(logged_id_list(url))


def result_of(decision_id: str) -> dict:
    return {
        "decision_id": decision_id,
        "as_of": "2021-12-31",
        "violations": [],
        "summary": {},
        "rulesets": [{"id": "notice", "version": "2021", "digest": "sha256:x"}],
    }


# ---------------------------------------------------------------------------------------------- quarantine


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "async"])
def test_writer_quarantines_what_does_not_serialise_and_writes_the_rest(tmp_path, durable):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    dlog = DecisionLog(Store(url), "full", spool_dir=tmp_path / "spool", durable=durable)
    bodies = {
        "ok-1": {"facts": {}},
        "surrogate": {"facts": {"enterprises": [{"id": "E1", "name": "\ud800"}]}},
        "not-json": {"facts": {"enterprises": [{"id": "E1", "tags": {1, 2}}]}},
        "ok-2": {"facts": {}},
    }
    for decision_id, body in bodies.items():
        ticket = dlog.record(body, result_of(decision_id), "caller")
        if durable:
            ticket.wait(5)  # on disk: in the spool, or kept aside in the quarantine file
    assert wait_until(lambda: dlog.pending == 0 and dlog.quarantined == 2)
    assert logged_ids(url) == {"ok-1", "ok-2"}
    dlog.record({"facts": {}}, result_of("ok-3"), None)  # the writer is still there
    assert wait_until(lambda: "ok-3" in logged_ids(url), 5)
    assert dlog._writer is not None and dlog._writer.is_alive()
    assert dlog.status()["decision_log_quarantined"] == 2 and dlog.lost == 0
    kept = [
        json.loads(line) for f in (tmp_path / "spool").glob("quarantine-*.jsonl") for line in f.read_text().splitlines()
    ]
    assert sorted(k["decision_id"] for k in kept) == ["not-json", "surrogate"]
    surrogate = next(k for k in kept if k["decision_id"] == "surrogate")
    assert surrogate["record"]["_body"]["facts"]["enterprises"][0]["name"] == "\ud800"  # kept, escaped
    dlog.close()


def _surrogate_body() -> bytes:
    body = copy.deepcopy(example("over-quota"))
    body["facts"]["enterprises"][0]["name"] = "SURROGATE"
    return json.dumps(body).replace('"SURROGATE"', '"\\ud800"').encode()  # valid JSON, a lone surrogate


def test_a_poisoned_decision_does_not_stop_the_others_being_written(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    server = Server(
        {
            "REPOLICY_DATABASE_URL": url,
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_RELOAD_INTERVAL": "60",
        },
        workers=1,
        threads=None,
    )
    try:
        json_headers = {"Content-Type": "application/json"}
        status, body = server.request("POST", "/v1/evaluate", _surrogate_body(), json_headers)
        poisoned = None
        if status == 400:  # refused at validation: the path names the field, nothing to log
            assert any(e["path"] == "facts.enterprises.0.name" for e in body["errors"]), body
        else:
            assert status == 200, body
            poisoned = body["decision_id"]
        later = []
        for _ in range(5):
            status, body = server.request("POST", "/v1/evaluate", example("over-quota"), json_headers)
            assert status == 200, body
            later.append(body["decision_id"])
        assert wait_until(lambda: set(later) <= logged_ids(url), 10)  # written while the server runs
        status, ready = server.request("GET", "/readyz")
        assert ready["decision_log_pending"] == 0 and ready["decision_log_lost"] == 0
        if poisoned:
            assert ready["decision_log_quarantined"] == 1 and poisoned not in logged_ids(url)
            metrics = server.raw("GET", "/metrics")[1].decode()
            assert "repolicy_decision_log_quarantined_total 1.0" in metrics
    finally:
        server.stop()
    if poisoned:
        errors = [e for e in server.log_entries() if e["level"] == "ERROR"]
        assert any(poisoned in e["message"] and "quarantined" in e["message"] for e in errors), errors
        kept = list(Path(url[len("sqlite:///") :] + ".spool").glob("quarantine-*.jsonl"))
        assert poisoned in "".join(f.read_text() for f in kept)


# ---------------------------------------------------------------------------------------------- slow clients


def stalled_client(port: int, path: str = "/v1/evaluate") -> socket.socket:
    """Headers announcing a 1 MB body, then one byte of it, then nothing."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000000\r\n\r\n{{".encode()
    )
    return s


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    """``repolicy-serve`` with its default workers, threads, slots and timeouts."""
    tmp = tmp_path_factory.mktemp("default-server")
    server = Server(
        {"REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}", "REPOLICY_OPEN_EVALUATE": "1", "LOG_DIR": str(tmp)},
        workers=None,
        threads=None,
    )
    yield server
    server.stop()


def test_eight_stalled_clients_do_not_stop_the_service(default_server):
    server = default_server
    stalled = [stalled_client(server.port) for _ in range(8)]
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]  # connected, silent
    try:
        # every stalled request is being read by now: the server has taken in all each client sent
        assert wait_until(lambda: all(unread_bytes(server.port, s) == 0 for s in stalled))
        for _ in range(4):  # enough to reach both workers
            t0 = time.monotonic()
            status, body = server.request("GET", "/healthz", timeout=2)
            assert status == 200 and body == {"status": "ok"} and time.monotonic() - t0 < 2
            t0 = time.monotonic()
            status, body = server.request(
                "POST", "/v1/evaluate", example("over-quota"), {"Content-Type": "application/json"}, timeout=2
            )
            assert status == 200 and body["violations"] and time.monotonic() - t0 < 2
    finally:
        for s in stalled + idle:
            s.close()


def test_a_stalled_body_is_cut_off_at_the_read_timeout(tmp_path):
    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_READ_TIMEOUT": "1",
        },
        workers=1,
        threads=None,
    )
    try:
        s = stalled_client(server.port)
        s.settimeout(5)
        t0 = time.monotonic()
        answer = b""
        while b'"request_timeout"' not in answer and (chunk := s.recv(65536)):
            answer += chunk
        assert time.monotonic() - t0 < 3
        assert answer.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in answer
        s.close()
        silent = socket.create_connection(("127.0.0.1", server.port))  # headers never finished
        silent.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n")
        silent.settimeout(10)
        assert silent.recv(100) == b""  # closed by the server
        silent.close()
        assert server.request("GET", "/healthz")[0] == 200
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- durable decision log


@pytest.fixture(scope="module")
def pg():
    from pg import Postgres

    server = Postgres()
    yield server
    server.stop()


def test_sigkill_of_a_worker_under_load_loses_no_answered_decision(pg, tmp_path):
    env = {
        "REPOLICY_DATABASE_URL": pg.url,
        "REPOLICY_OPEN_EVALUATE": "1",
        "LOG_DIR": str(tmp_path),
        "REPOLICY_DECISION_SPOOL_DIR": str(tmp_path / "spool"),
    }
    server = Server(env, workers=2, threads=None)
    try:
        answered: list[str] = []
        killed = []
        load(server, 4, answered, during=lambda: killed.append(os.kill(workers_of(server)[0], signal.SIGKILL)))
        assert killed and len(answered) > 20
        # the killed worker's spool segment is replayed by a live worker's writer (it looks every 2 s)
        assert wait_until(lambda: set(answered) <= logged_ids(pg.url), 20), (
            f"{len(set(answered) - logged_ids(pg.url))} of {len(answered)} answered decisions never stored"
        )
    finally:
        server.stop()


def test_database_down_then_a_crash_loses_no_answered_decision(pg, tmp_path):
    env = {
        "REPOLICY_DATABASE_URL": pg.url,
        "REPOLICY_OPEN_EVALUATE": "1",
        "LOG_DIR": str(tmp_path),
        "REPOLICY_DECISION_SPOOL_DIR": str(tmp_path / "spool"),
        "REPOLICY_DECISION_LOG_RETRY_MAX": "0.5",
    }
    before = logged_ids(pg.url)
    server = Server(env, workers=2, threads=None)
    answered: list[str] = []
    try:
        load(server, 1.5, answered)
        pg.halt()  # a real server stopped mid-run
        load(server, 2, answered)
        status, ready = server.request("GET", "/readyz")
        assert status == 200 and ready["decision_log_commit"] == "durable"
    finally:
        os.killpg(server.proc.pid, signal.SIGKILL)  # the whole service crashes while the database is down
        server.proc.wait(10)
        server.log.close()
        pg.start()
    assert len(answered) > 20 and not set(answered) <= logged_ids(pg.url)  # some only in the spool
    again = Server(env, workers=1, threads=None)  # replays the spool at start-up
    try:
        assert set(answered) <= logged_ids(pg.url) - before
        assert not list((tmp_path / "spool").glob("seg-*.jsonl"))  # replayed segments are removed
    finally:
        again.stop()


# ---------------------------------------------------------------------------------------------- amplification


def many_enterprises(n: int) -> dict:
    """The over-quota example copied for ``n`` enterprises E0..E(n-1): each over its quota."""
    base = example("over-quota")
    facts = base["facts"]
    out = {"groups": facts["groups"], **{key: [] for key in ("enterprises", "allocations", "production", "reports")}}
    for i in range(n):
        for key in ("enterprises", "allocations", "production", "reports"):
            for item in facts[key]:
                item = {**item, **{ref: f"E{i}" for ref in ("id", "enterprise", "reporter") if ref in item}}
                out[key].append(item)
    return {**base, "facts": out}


def without_citation_texts(violations: list[dict]) -> list[dict]:
    return [{**v, "citations": [{k: c[k] for k in ("instrument", "eid")} for c in v["citations"]]} for v in violations]


def test_an_amplifying_request_is_bounded_marked_and_logged_compressed(tmp_path):
    from api.evaluate_input import request_as_of, validate_request
    from helpers import TOKENS, token_config
    from api.runtime import Runtime
    from policy.instruments import INSTRUMENTS_DIR
    from policy.registry import RULESETS_DIR

    body = many_enterprises(120)  # one over-quota finding each under the notice
    data = validate_request(json.loads(json.dumps(body)), 100_000)
    full = Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR).evaluate(
        data["facts"], request_as_of(data), data.get("rulesets")
    )
    assert len(full["violations"]) > 100
    url = f"sqlite:///{tmp_path / 'r.db'}"
    server = Server(
        {
            "REPOLICY_DATABASE_URL": url,
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_TOKENS": token_config(),
            "REPOLICY_MAX_VIOLATIONS": "50",
            "REPOLICY_SHARED_CITATIONS_FROM": "20",
        },
        workers=1,
        threads=None,
    )
    try:
        status, raw, _ = server.raw(
            "POST", "/v1/evaluate", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        answer = json.loads(raw)
        assert status == 200
        assert answer["truncated"] == {
            "violations_returned": 50,
            "violations_found": len(full["violations"]),
            "reason": "max_violations",
        }
        assert answer["summary"] == full["summary"]  # counts everything found
        assert without_citation_texts(answer["violations"]) == without_citation_texts(full["violations"][:50])
        texts = answer["citation_texts"]
        for got, whole in zip(answer["violations"], full["violations"]):
            for c, w in zip(got["citations"], whole["citations"]):
                assert "text" not in c and texts[c["text_ref"]]["text"] == w["text"]
        assert len(raw) < len(json.dumps(full, ensure_ascii=False).encode()) / 3

        legal = {"Authorization": "Bearer " + next(t for t, r in TOKENS.items() if r == "legal")}
        status, logged = server.request("GET", f"/v1/decisions/{answer['decision_id']}", headers=legal)
        assert status == 200 and logged["input"] == body and logged["result"]["truncated"] == answer["truncated"]
        status, replayed = server.request("POST", f"/v1/decisions/{answer['decision_id']}/replay", headers=legal)
        assert status == 200 and replayed["identical"] is True
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT input FROM decisions WHERE decision_id = :d"), {"d": answer["decision_id"]}
            ).scalar_one()
        engine.dispose()
        assert stored.startswith("zlib+base64:") and len(stored) < len(json.dumps(body)) / 3

        status, raw, _ = server.raw(
            "POST",
            "/v1/evaluate?citations=inline",
            json.dumps(example("over-quota")).encode(),
            {"Content-Type": "application/json"},
        )
        small = json.loads(raw)
        assert "citation_texts" not in small and "truncated" not in small  # a normal answer is unchanged
        assert small["violations"] and all(c["text"] for v in small["violations"] for c in v["citations"])
    finally:
        server.stop()


def test_the_rate_limit_is_per_caller(tmp_path):
    from api import create_app
    from helpers import token_config

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "OPEN_EVALUATE": True,
            "TOKENS": token_config(),
            "RATE_LIMIT": "3/minute",
        }
    )
    client = app.test_client()
    codes = [client.post("/v1/evaluate", json=example("over-quota")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.post("/v1/evaluate", json=example("over-quota"))
    assert r.status_code == 429 and r.json["error"] == "too_many_requests" and int(r.headers["Retry-After"]) > 0
    other = {"Authorization": "Bearer caller-token-1"}  # another caller has its own allowance
    assert client.post("/v1/evaluate", json=example("over-quota"), headers=other).status_code == 200


def test_a_worker_over_the_memory_ceiling_is_recycled(tmp_path):
    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp_path),
            "REPOLICY_WORKER_MAX_MEMORY_MB": "1",
        },
        workers=1,
        threads=None,
    )
    try:
        first = workers_of(server)
        assert (
            server.request("POST", "/v1/evaluate", example("over-quota"), {"Content-Type": "application/json"})[0]
            == 200
        )
        assert wait_until(lambda: workers_of(server) and workers_of(server) != first, 20)
        assert (
            server.request("POST", "/v1/evaluate", example("over-quota"), {"Content-Type": "application/json"})[0]
            == 200
        )
    finally:
        server.stop()
    assert "over the ceiling of 1 MB: restarting it" in (tmp_path / f"server-{server.port}.log").read_text()


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), max_size=60), max_bytes=st.integers(100, 60_000))
def test_a_bounded_response_fits_keeps_a_prefix_and_says_what_it_left_out(sizes, max_bytes):
    from api.response_bounds import encode_bounded

    result = {"decision_id": "d", "violations": [{"n": i, "pad": "x" * size} for i, size in enumerate(sizes)]}
    out = json.loads(encode_bounded(copy.deepcopy(result), json.dumps, max_bytes))
    returned = len(out["violations"])
    assert returned == 0 or len(json.dumps(out)) <= max_bytes
    assert out["violations"] == result["violations"][:returned]  # the first, in order
    if returned < len(sizes):
        assert out["truncated"] == {
            "violations_returned": returned,
            "violations_found": len(sizes),
            "reason": "max_response_bytes",
        }
    else:
        assert "truncated" not in out


provision = st.tuples(st.sampled_from(["measures-draft", "notice-2021"]), st.integers(1, 30))


@settings(max_examples=200, deadline=None)
@given(cited=st.lists(st.lists(provision, min_size=1, max_size=4), max_size=20), english=st.booleans())
def test_shared_citation_texts_give_back_every_text(cited, english):
    from api.response_bounds import share_citations

    def citation(instrument: str, n: int) -> dict:
        c = {"instrument": instrument, "eid": f"art_{n}", "text": f"{instrument} 第{n}条"}
        return {**c, "text_en": f"Art. {n}"} if english else c

    violations = [{"citations": [citation(*p) for p in ps]} for ps in cited]
    result = {"violations": copy.deepcopy(violations)}
    share_citations(result)
    texts = result["citation_texts"]
    assert len(texts) == len({p for ps in cited for p in ps})  # each provision once
    rebuilt = [
        {
            "citations": [
                {"instrument": c["instrument"], "eid": c["eid"], **texts[c["text_ref"]]} for c in v["citations"]
            ]
        }
        for v in result["violations"]
    ]
    assert rebuilt == violations


def test_evaluation_slots_are_served_in_arrival_order():
    from api.connections import FairSlots

    slots = FairSlots(1)
    slots.acquire()
    served: list[int] = []

    def request(n: int) -> None:
        slots.acquire()
        served.append(n)
        slots.release()

    waiting = []
    for n in range(6):
        t = threading.Thread(target=request, args=(n,))
        t.start()
        waiting.append(t)
        assert wait_until(lambda: len(slots._waiters) == n + 1)  # each is queued before the next arrives
    slots.release()
    request(6)  # arrives last (after the release): must not overtake the queue
    for t in waiting:
        t.join(5)
    assert served == list(range(7))


def test_a_chunked_body_over_the_limit_is_refused_not_truncated(default_server):
    """The buffering layer counts a chunked body as it reads it: over the limit, 413 like Content-Length."""
    c = socket.create_connection(("127.0.0.1", default_server.port))
    c.settimeout(20)
    c.sendall(
        b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"{" + b" " * (1 << 20)  # over 8 MiB of whitespace after '{': valid JSON once closed
    try:
        for _ in range(9):
            c.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            chunk = b" " * (1 << 20)
        c.sendall(b"1\r\n}\r\n0\r\n\r\n")
    except OSError:
        pass  # the server may stop reading once it has answered
    answer = b""
    while b"\r\n\r\n" not in answer and (part := c.recv(65536)):
        answer += part
    c.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
