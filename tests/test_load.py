"""Correctness under load: a real gunicorn server (2 workers x 4 threads), 8 parallel clients, 1,600 mixed
requests on loopback; every response is checked against the expected violations of its own request:
nothing dropped, duplicated or mixed between requests."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time

import pytest

from api.runtime import Runtime
from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR
from helpers import random_request
from servers import Server

REQUESTS, CLIENTS = 1600, 8


def keys(result: dict) -> list[tuple]:
    return sorted((v["ruleset"], v["rule"], v["subject"]["id"], v.get("period")) for v in result["violations"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load")
    s = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}",
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp),
            "REPOLICY_LOG_LEVEL": "WARNING",
        },
        workers=2,
        threads=4,
    )
    yield s
    s.stop()


def test_every_response_is_its_own_requests_answer(server):
    local = Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)
    rng = random.Random(42)
    bodies = []
    for _ in range(40):
        facts = random_request(rng, n_ent=rng.randint(1, 6))
        bodies.append({"as_of": "2022-01-31", "facts": facts})
    expected = [keys(local.evaluate(b["facts"], dt.date(2022, 1, 31))) for b in bodies]
    assert sum(1 for e in expected if e) > 30  # the requests do find violations
    failures, seen_ids, lock = [], set(), threading.Lock()
    deadline = time.monotonic() + 240

    def client(n: int) -> None:
        local_rng = random.Random(n)
        for _ in range(REQUESTS // CLIENTS):
            if time.monotonic() > deadline:
                failures.append("time budget exceeded")
                return
            i = local_rng.randrange(len(bodies))
            status, body = server.request(
                "POST", "/v1/evaluate", json.dumps(bodies[i]).encode(), {"Content-Type": "application/json"}, timeout=30
            )
            with lock:
                if status != 200:
                    failures.append((i, status, body))
                elif keys(body) != expected[i]:
                    failures.append((i, "wrong violations"))
                elif body["decision_id"] in seen_ids:
                    failures.append((i, "duplicate decision id"))
                seen_ids.add(body.get("decision_id"))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]
    assert len(seen_ids) == REQUESTS
    status, _ = server.request("GET", "/readyz")
    assert status == 200


def test_metrics_aggregate_all_workers(server):
    import urllib.request

    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith('repolicy_http_requests_total{endpoint="/v1/evaluate",method="POST",status="200"}')
    )
    assert float(line.split()[-1]) >= REQUESTS
