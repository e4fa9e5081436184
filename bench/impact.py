#!/usr/bin/env python
"""Impact preview over many recorded decisions: time and peak memory of the job, per number of decisions.

usage: python bench/impact.py [--n 1000 --n 10000 --n 100000] [--workers K]

For each N, in a fresh process (so that peak memory is that N's):

1. An app on a new SQLite file (shipped rulesets seeded), then N decisions written to its ``decisions``
   table: the small request of ``bench/evaluate.py`` (37 facts: a mine, a smelter with a banned process, 11
   months of production each, 10 group reports), each with its own ids and the smelter's capacity drawn
   from 500-5,000 t (seeded).  The recorded result column holds a placeholder: the preview does not read it.
2. ``POST /v1/rulesets/impact?limit=all`` with the notice's floor raised from 2,000 t to 3,000 t, then
   ``GET`` every 0.5 s until done: the wall time from the POST to the report.
3. The report is checked against the text: a smelter of capacity c gains the finding when 2,000 <= c <
   3,000, keeps it (restated with the new floor) when c < 2,000, and nothing else changes.
4. CPU seconds used by the job (serving process and pool processes): on a machine shared with other work
   the wall time says more about the neighbours than about the preview; the CPU time does not.
5. Peak resident memory: the serving process (``ru_maxrss`` of itself) and the largest pool process
   (``RUSAGE_CHILDREN``, after the pool has exited).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluate import small_request  # noqa: E402  (bench/evaluate.py)

TOKEN = "bench-regulator-token"
NOTICE = (ROOT / "rulesets" / "notice" / "2021.yaml").read_text(encoding="utf-8")
FLOOR_3000 = NOTICE.replace('version: "2021"', 'version: "2021-floor3000"').replace(
    "    value: 2000\n    unit: t_reo_per_year", "    value: 3000\n    unit: t_reo_per_year"
)
assert FLOOR_3000 != NOTICE and "value: 3000" in FLOOR_3000


def decision_rows(n: int, rulesets: str, seed: int = 20211231):
    """(row, capacity) for n recorded decisions, newest last."""
    from api.decision_log import canonical_digest
    from policy.ids import new_id

    rng = random.Random(seed)
    template = small_request()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        facts = json.loads(json.dumps(template))
        capacity = rng.randint(500, 5000)
        facts["enterprises"][1]["separation_capacity_t_reo"] = capacity
        facts["allocations"][0]["amount_t_reo"] = rng.randint(4000, 6000)
        body = {"as_of": "2021-12-31", "facts": facts}
        row = {
            "decision_id": new_id(),
            "at": start + dt.timedelta(seconds=i),
            "caller": "bench",
            "as_of": "2021-12-31",
            "rulesets": rulesets,
            "input": json.dumps(body, ensure_ascii=False),
            "input_digest": canonical_digest(body),
            "result": '{"placeholder": true}',
            "violations": 0,
        }
        yield row, capacity


def _cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the pool's processes once it has exited)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_one(n: int, workers: int, db: Path, inline_max: int | None = None) -> dict:
    """Run the measurement for n decisions in this process; the figures as a dict."""
    from api import create_app
    from api.auth import token_digest

    config = {
        "DATABASE_URL": f"sqlite:///{db}",
        "TOKENS": f"bench:regulator:{token_digest(TOKEN)}",
        "IMPACT_WORKERS": workers,
    }
    if inline_max is not None:
        config["IMPACT_INLINE_MAX"] = inline_max
    app = create_app(config)
    inline_max = app.config["IMPACT_INLINE_MAX"]
    runtime = app.extensions["repolicy"]
    store = runtime.store
    rulesets = json.dumps([{"id": r.id, "version": r.version, "digest": r.digest} for r in runtime.registry.active()])
    t0 = time.perf_counter()
    capacities, batch = [], []
    for row, capacity in decision_rows(n, rulesets):
        batch.append(row)
        capacities.append(capacity)
        if len(batch) == 5000:
            store.record_decisions(batch)
            batch = []
    if batch:
        store.record_decisions(batch)
    generated = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = _cpu_seconds()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    t0 = time.perf_counter()
    r = client.post("/v1/rulesets/impact?limit=all", data=FLOOR_3000, headers=headers)
    assert r.status_code == 202, r.json
    accepted = time.perf_counter() - t0
    while True:
        time.sleep(0.5)
        state = client.get(r.headers["Location"], headers=headers).json
        if state["status"] in ("done", "failed"):
            break
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu_before
    assert state["status"] == "done", state
    report = state["result"]

    want_added = sum(2000 <= c < 3000 for c in capacities)
    want_restated = sum(c < 2000 for c in capacities)
    ok = (
        report["decisions_examined"] == n
        and report["findings_added"] == want_added
        and report["findings_restated"] == want_restated
        and report["findings_removed"] == 0
        and report["decisions_changed"] == want_added + want_restated
    )
    return {
        "n": n,
        "workers": workers if n > inline_max else 1,
        "generate_s": round(generated, 1),
        "accept_s": round(accepted, 3),
        "job_s": round(seconds, 1),
        "per_decision_ms": round(1000 * seconds / n, 2),
        "cpu_s": round(cpu, 1),
        "cpu_per_decision_ms": round(1000 * cpu / n, 2),
        "changed": report["decisions_changed"],
        "added": report["findings_added"],
        "restated": report["findings_restated"],
        "checked_against_text": ok,
        "db_mb": round(db.stat().st_size / 2**20),
        "serving_rss_before_mb": round(rss_before / 1024),
        "serving_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "pool_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


@click.command(help=__doc__.splitlines()[0])
@click.option(
    "--n",
    "sizes",
    type=int,
    multiple=True,
    default=(1000, 10000, 100000),
    show_default=True,
    help="recorded decisions; repeat for several (--n 1000 --n 10000), each run in a fresh process",
)
@click.option("--workers", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option(
    "--inline-max",
    type=int,
    default=None,
    help="run in the pool above this many decisions (default: the service's setting)",
)
@click.option("--one", type=int, hidden=True)  # the child run for one N
def main(sizes: tuple[int, ...], workers: int, inline_max: int | None, one: int | None) -> None:
    if one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_one(one, workers, Path(tmp) / "impact.db", inline_max)), flush=True)
        return
    print(f"cpus: {os.cpu_count()}, workers: {workers}")
    for n in sizes:
        extra = [] if inline_max is None else ["--inline-max", str(inline_max)]
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--workers", str(workers), *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode:
            print(f"N={n}: failed\n{out.stderr[-3000:]}")
            sys.exit(1)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
