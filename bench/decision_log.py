"""What the decision log costs, side by side in one run: ``python bench/decision_log.py [--requests 300 --rounds 5]``.

POST /v1/evaluate of the bench-small request (bench/evaluate.py: 25 violations, about 57 KB answered)
through the Flask test client, in one process, on a SQLite file per configuration:

- ``off``: nothing recorded;
- ``full async`` / ``digest async``: recorded by the background writer (the answer does not wait);
- ``full durable``: the default, each answer waits for its decision to be on the local disk (fsync);
- ``full async, objects``: as ``full async`` but the request body and result objects are serialised
  again and the body digested as canonical JSON (what the log did before it kept the bytes).

Each round runs every configuration in turn (interleaved, so that the machine's load falls on all alike);
a configuration's time includes waiting until its writer has written everything queued, so the
background work is counted.  Printed: requests per wall-clock second and requests per CPU second of the
process (all its threads: the writer's work included), each the median of the rounds, and the ratio to
``off``.  On a shared machine the CPU figure is the steadier one: other processes' load stretches the wall
clock, not this process's CPU time (the fsync wait of ``durable`` shows in the wall clock only).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evaluate import small_request  # noqa: E402

CONFIGS = {
    "off": {"DECISION_LOG": "off", "DECISION_LOG_COMMIT": "async"},
    "full async": {"DECISION_LOG": "full", "DECISION_LOG_COMMIT": "async"},
    "digest async": {"DECISION_LOG": "digest", "DECISION_LOG_COMMIT": "async"},
    "full durable": {"DECISION_LOG": "full", "DECISION_LOG_COMMIT": "durable"},
    "full async, objects": {"DECISION_LOG": "full", "DECISION_LOG_COMMIT": "async"},
}


def _app(name: str, folder: Path):
    from api import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / (name.replace(' ', '-').replace(',', '') + '.db')}",
            "OPEN_EVALUATE": True,
            **CONFIGS[name],
        }
    )
    if name.endswith("objects"):
        dlog = app.extensions["repolicy_decisions"]
        record = dlog.record
        dlog.record = lambda body, result, caller, **_bytes: record(body, result, caller)
    return app


def _round(client, app, body: bytes, n: int) -> tuple[float, float]:
    """(requests per wall-clock second, requests per CPU second of this process, all its threads)."""
    dlog = app.extensions["repolicy_decisions"]
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        response = client.post("/v1/evaluate", data=body, content_type="application/json")
        assert response.status_code == 200, response.data[:300]
    while dlog.pending:
        time.sleep(0.001)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


@click.command()
@click.option("--requests", type=int, default=300, show_default=True, help="requests a round, per configuration")
@click.option("--rounds", type=int, default=5, show_default=True)
def main(requests: int, rounds: int) -> None:
    """What the decision log costs, side by side in one run."""
    body = json.dumps({**{"facts": small_request()}, "as_of": "2021-12-31"}, ensure_ascii=False).encode()
    folder = Path(tempfile.mkdtemp(prefix="repolicy-bench-log-"))
    apps = {name: _app(name, folder) for name in CONFIGS}
    clients = {name: app.test_client() for name, app in apps.items()}
    sample = clients["off"].post("/v1/evaluate", data=body, content_type="application/json")
    for name in CONFIGS:  # warm up (compiled rulesets, caches, the writer thread)
        _round(clients[name], apps[name], body, 30)
    wall: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(rounds):
        for name in CONFIGS:
            per_wall, per_cpu = _round(clients[name], apps[name], body, requests)
            wall[name].append(per_wall)
            cpu[name].append(per_cpu)
    off_wall, off_cpu = statistics.median(wall["off"]), statistics.median(cpu["off"])
    print(
        f"bench-small: {len(body):,} bytes in, {len(sample.data):,} bytes out, "
        f"{len(sample.json['violations'])} violations; {rounds} rounds of {requests} requests"
    )
    print(
        "| decision log | requests/s wall (median, min-max) | vs off | requests per CPU second (median, "
        "min-max) | vs off |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in CONFIGS:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"| {name} | {w:,.0f} ({min(wall[name]):,.0f}-{max(wall[name]):,.0f}) | {w / off_wall:.2f} "
            f"| {c:,.0f} ({min(cpu[name]):,.0f}-{max(cpu[name]):,.0f}) | {c / off_cpu:.2f} |"
        )
    for app in apps.values():
        app.extensions["repolicy_decisions"].close()


if __name__ == "__main__":
    main()
