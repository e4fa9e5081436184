"""Scaling and memory of the evaluation (the full service without HTTP, shipped rulesets).

usage: python bench/scaling.py [--quick] [--cpu]

1. Time for 1x, 2x, 4x and 8x the large request (500 enterprises x 12 months each, ids renamed per copy),
   and the exponent k of time ~ facts^k from a least-squares fit on the log-log points (1 = linear).
2. Resident memory (RSS) after N and after 100 N evaluations of the small request: the same within 10%
   means no growth (durable_rules sessions are deleted after each evaluation).

``--cpu`` times with the process's CPU time instead of the wall clock: on a shared, loaded machine the
wall clock mostly measures the other processes (figures in bench/README.md say which clock).
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import resource
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluate import large_request, small_request  # noqa: E402  (bench/evaluate.py)
from api.runtime import Runtime  # noqa: E402
from policy.instruments import INSTRUMENTS_DIR  # noqa: E402
from policy.registry import RULESETS_DIR  # noqa: E402

AS_OF = dt.date(2021, 12, 31)


def scaled(base: dict, copies: int) -> dict:
    """``copies`` copies of the request with distinct enterprise and group ids."""
    out: dict = {name: [] for name in base}
    for c in range(copies):
        suffix = f"~{c}"
        for name, items in base.items():
            for item in items:
                item = dict(item)
                for key in ("id", "enterprise", "group", "reporter"):
                    if isinstance(item.get(key), str):
                        item[key] = item[key] + suffix
                out[name].append(item)
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@click.command()
@click.option("--quick", is_flag=True, help="fewer copies and evaluations")
@click.option("--cpu", is_flag=True, help="time with process CPU time (see module docstring)")
def main(quick: bool, cpu: bool) -> None:
    """Scaling and memory of the evaluation (the full service without HTTP, shipped rulesets)."""
    clock = time.process_time if cpu else time.perf_counter
    runtime = Runtime.from_directories(RULESETS_DIR, INSTRUMENTS_DIR)
    base = large_request()
    points = []
    print("| copies of the large request | facts | seconds (median of 3) | violations |")
    print("| ---: | ---: | ---: | ---: |")
    for copies in (1, 2, 4) if quick else (1, 2, 4, 8):
        facts = scaled(base, copies)
        n = sum(len(v) for v in facts.values())
        times, found = [], 0
        for _ in range(3):
            gc.collect()
            t0 = clock()
            found = len(runtime.evaluate(facts, AS_OF)["violations"])
            times.append(clock() - t0)
        t = sorted(times)[1]
        points.append((n, t))
        print(f"| {copies} | {n:,} | {t:.3f} | {found:,} |")
    xs, ys = [math.log(n) for n, _ in points], [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"scaling exponent k (time ~ facts^k): {k:.2f}  (1.00 = linear)")

    small = small_request()
    few = 200 if quick else 1_000
    for _ in range(few):
        runtime.evaluate(small, AS_OF)
    gc.collect()
    after_few = rss_mb()
    many = few * 20 if quick else few * 100
    t0 = clock()
    for _ in range(many - few):
        runtime.evaluate(small, AS_OF)
    gc.collect()
    after_many = rss_mb()
    print(
        f"RSS after {few:,} evaluations: {after_few:.1f} MB; after {many:,}: {after_many:.1f} MB "
        f"({(after_many / after_few - 1) * 100:+.1f}%, target within 10%); "
        f"{(clock() - t0) / (many - few) * 1e3:.2f} ms per small evaluation ({'CPU' if cpu else 'wall'})"
    )


if __name__ == "__main__":
    main()
