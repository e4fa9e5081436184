#!/usr/bin/env python
"""POST /v1/evaluate in process (Flask test client), the ``small`` request of ``bench/evaluate.py``: the issue's
in-process target (1.5 ms or less; decision log ``full`` within 10% of ``off``).

Run from the project root::

    python bench/in_process.py                      # this tree, decision log off and full, about 1 minute
    python bench/in_process.py --compare OLD_TREE   # and another tree (e.g. `git archive` of an older commit),
                                                    # alternating, so the machine's noise falls on both
    python bench/in_process.py --profile cumulative # then cProfile of 1,000 requests (decision log off)
    python bench/in_process.py --stages             # CPU time of each stage of the request path

Each configuration runs in a process of its own (the tree's own modules), warms up with 50 requests, then
times ``--repeats`` runs of ``--calls`` requests; reported: the median of the runs, per request, of the wall
time and of the process's CPU time (``time.process_time``: on a shared machine the CPU time moves less with
other people's load than the wall time). The request is ``{"as_of": "2021-12-31", "facts": small}`` with
the default ruleset selection, as ``bench/http_load.py`` sends it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent

STAGES = r"""
import json, statistics, sys, tempfile, time
root, calls, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [root, root + "/bench"]
from evaluate import AS_OF, small_request
from api import create_app
from api.evaluate import compact_json
from api.evaluate_input import validate_request
from api.json_input import parse_json_text
from engine.prepare import RequestFacts
from policy import results
app = create_app({"DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/r.db", "OPEN_EVALUATE": True,
                  "DECISION_LOG": "off", "RELOAD_INTERVAL": 3600.0, "ECHO_ENDPOINT": True})
client, runtime = app.test_client(), app.extensions["repolicy"]
body = json.dumps({"as_of": AS_OF.isoformat(), "facts": small_request()}).encode()
text = body.decode()
data = validate_request(parse_json_text(text), 100_000)
chosen, _ = runtime.registry.select(None, {AS_OF.year}, AS_OF)
outcomes = [runtime.engine(rs).evaluate(RequestFacts(data["facts"]), AS_OF) for rs in chosen]
result = runtime.evaluate(data["facts"], AS_OF)
def engines():
    request = RequestFacts(data["facts"])
    for rs in chosen:
        runtime.engine(rs).evaluate(request, AS_OF)
def shaping():
    for rs, outcome in zip(chosen, outcomes):
        results.violations(rs, outcome.matches, runtime.instruments, {}, AS_OF.toordinal())
def encode():
    with app.app_context():
        compact_json(result)
stages = {
    "POST /v1/echo, same body (Flask, test client, hooks)": lambda: client.post("/v1/echo", data=body,
                                                                                 content_type="application/json"),
    "parse the body (policy.jsonio)": lambda: parse_json_text(text),
    "validate (schema, references)": lambda: validate_request(parse_json_text(text), 100_000),
    "engines: prepare + durable (engine/)": engines,
    "shape violations (policy.results)": shaping,
    "Runtime.evaluate (engines, shaping, selection, summary)": lambda: runtime.evaluate(data["facts"], AS_OF),
    "encode the response": encode,
    "POST /v1/evaluate, whole": lambda: client.post("/v1/evaluate", data=body, content_type="application/json"),
}
times = {name: [] for name in stages}
for fn in stages.values():
    for _ in range(30):
        fn()
for _ in range(repeats):
    for name, fn in stages.items():
        c0 = time.process_time()
        for _ in range(calls):
            fn()
        times[name].append((time.process_time() - c0) / calls * 1e3)
print("rulesets selected:", ", ".join(rs.ref for rs in chosen), "; violations:", len(result["violations"]))
print("| stage (CPU time, median of runs) | ms |")
print("| --- | ---: |")
for name, ts in times.items():
    print(f"| {name} | {statistics.median(ts):.3f} |")
"""

CHILD = r"""
import cProfile, json, pstats, statistics, sys, tempfile, time
root, mode, calls, repeats, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path[:0] = [root, root + "/bench"]
from evaluate import AS_OF, small_request
from api import create_app
app = create_app({"DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/r.db", "OPEN_EVALUATE": True,
                  "DECISION_LOG": mode, "RELOAD_INTERVAL": 3600.0})
client = app.test_client()
body = json.dumps({"as_of": AS_OF.isoformat(), "facts": small_request()}).encode()
def post():
    r = client.post("/v1/evaluate", data=body, content_type="application/json")
    assert r.status_code == 200, r.get_data()[:300]
    return r
for _ in range(50):
    size = len(post().get_data())
wall, cpu = [], []
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        post()
    wall.append((time.perf_counter() - t0) / calls * 1e3)
    cpu.append((time.process_time() - c0) / calls * 1e3)
print(json.dumps({"wall": wall, "cpu": cpu, "bytes": size}))
if profile:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(1000):
        post()
    pr.disable()
    pstats.Stats(pr, stream=sys.stderr).sort_stats(profile).print_stats(60)
"""


def run(root: Path, mode: str, calls: int, repeats: int, profile: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), mode, str(calls), str(repeats), profile],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    if profile:
        print(out.stderr)
    return json.loads(out.stdout.splitlines()[-1])


@click.command(help=__doc__.split("\n")[0])
@click.option("--compare", type=click.Path(path_type=Path), help="another source tree, run alternately with this one")
@click.option("--rounds", type=int, default=2, show_default=True)
@click.option("--calls", type=int, default=200, show_default=True, help="requests a run")
@click.option("--repeats", type=int, default=5, show_default=True, help="runs a round, per tree and decision log")
@click.option("--stages", is_flag=True, help="only the CPU time of each stage of the request path")
@click.option("--profile", default="", help="cProfile sort key (e.g. cumulative, tottime) after the timing")
def main(compare: Path | None, rounds: int, calls: int, repeats: int, stages: bool, profile: str) -> None:
    trees = [("this tree", ROOT)] + ([(f"tree {compare.name}", compare.resolve())] if compare else [])
    if stages:
        for label, root in trees:
            print(f"{label}, load average {os.getloadavg()[0]:.1f}:")
            print(
                subprocess.run(
                    [sys.executable, "-c", STAGES, str(root), str(calls), str(repeats)],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=root,
                ).stdout
            )
        return
    print(
        f"POST /v1/evaluate in process, small request; {repeats} runs of {calls} requests; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        "| tree | round | decision log | response bytes | wall ms/request (median) | runs | CPU ms/request (median) |"
    )
    print("| --- | ---: | --- | ---: | ---: | --- | ---: |")
    for round_ in range(1, rounds + 1):
        for label, root in trees:
            for mode in ("off", "full"):
                r = run(root, mode, calls, repeats)
                print(
                    f"| {label} | {round_} | {mode} | {r['bytes']:,} | {statistics.median(r['wall']):.2f} | "
                    f"{' '.join(f'{x:.2f}' for x in r['wall'])} | {statistics.median(r['cpu']):.2f} |",
                    flush=True,
                )
    print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if profile:
        run(ROOT, "off", calls, repeats, profile)


if __name__ == "__main__":
    main()
