"""Time the shaping of violations on the large bench request, and the part of it that writes explanations.

Why: a violation's ``explanation`` (its conditions with the values compared) was written by walking the
condition tree once per finding; it is now compiled once per rule version.  This script measures both
stages on the same matches, so two checkouts can be compared side by side::

    python bench/explanations.py                      # this checkout
    PYTHONPATH=/path/to/other/checkout python bench/explanations.py --root /path/to/other/checkout

Stages (median of ``--repeats``, milliseconds):

- ``shaping``: ``policy.results.violations`` for every ruleset's matches (messages, details, citations,
  consequences, explanations), what ``Runtime.evaluate`` spends after matching;
- ``explain (per call)``: ``policy.expr.explain`` per violation and condition, as shaping called it before;
- ``explain (compiled)``: the compiled explanations shaping calls now (absent in a checkout without them).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

import click


def _timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@click.command(help=__doc__.split("\n\n")[0])
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=Path(__file__).resolve().parent.parent,
    help="the checkout to measure (default: this one)",
)
@click.option("--repeats", type=int, default=15, show_default=True)
def main(root: Path, repeats: int) -> None:
    for path in (root, root / "bench"):
        sys.path.insert(0, str(path))
    import evaluate as bench  # the bench requests and the reduced shipped rulesets
    from engine.prepare import RequestFacts
    from api.evaluation_body import fact_years
    from policy import expr as E
    from policy import results
    from policy.force import Timing

    runtime = bench.bench_runtime()
    facts, as_of = bench.large_request(), bench.AS_OF
    groups = {e["id"]: e.get("group") for e in facts.get("enterprises") or ()}
    request = RequestFacts(facts)
    chosen, _ = runtime.registry.select(None, fact_years(facts), as_of)
    work = []
    for rs in chosen:
        outcome = runtime.engine(rs).evaluate(request, as_of)
        timing = Timing(rs, runtime.instruments.get(rs.instrument), as_of, False)
        work.append((rs, [m for m in outcome.matches if timing.admits(m.rule, m.bindings)]))
    day = as_of.toordinal()

    def shaping() -> int:
        return sum(len(results.violations(rs, ms, runtime.instruments, groups, day)) for rs, ms in work)

    # the lead match of each violation and its rule's compiled entry, as shaping picks them
    leads = []
    for rs, ms in work:
        grouped: dict[tuple, list] = {}
        for m in ms:
            c = results._compiled(rs, rs.rule(m.rule))
            key = (
                m.rule,
                results._run(c.subject, m.bindings, rs.param_values),
                results._run(c.period, m.bindings, rs.param_values),
            )
            grouped.setdefault(key, []).append(m)
        for group in grouped.values():
            group.sort(key=results.lead_order)
            leads.append((rs.param_values, results._compiled(rs, rs.rule(group[0].rule)), group[0]))

    def show(value: Any, vtype: str, node: Any) -> str:
        if isinstance(node, E.FieldRef) and node.name in ("year", "month"):
            return str(value)
        return results.display_value(value, vtype, "en")

    def walk() -> None:
        for params, c, m in leads:
            " and ".join(E.explain(w, m.bindings, params, day, show=show, scope=c.scope) for w in c.wheres)

    print(f"large request: {sum(len(v) for v in facts.values())} facts, {shaping()} violations, {len(leads)} explained")
    print(f"shaping            {_timed(shaping, repeats):8.1f} ms")
    print(f"explain (per call) {_timed(walk, repeats):8.1f} ms")
    if leads and hasattr(leads[0][1], "explanation"):

        def compiled() -> None:
            for params, c, m in leads:
                c.explanation(m.bindings, params, day)

        print(f"explain (compiled) {_timed(compiled, repeats):8.1f} ms")


if __name__ == "__main__":
    main()
