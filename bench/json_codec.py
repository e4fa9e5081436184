#!/usr/bin/env python
"""JSON with orjson against the standard library, side by side in one run: POST /v1/evaluate in process.

Run from the project root::

    python bench/json_codec.py            # about 1-2 minutes
    python bench/json_codec.py --quick

Two configurations of the same application (full shipped rulesets, decision log off), timed in
alternation so the machine's noise falls on both:

- ``orjson``: as shipped (``api.json_provider.OrjsonProvider``, ``policy.jsonio``);
- ``stdlib``: Flask's ``DefaultJSONProvider`` with the service's settings, and ``policy.jsonio``'s
  functions replaced by ``json.loads`` / ``json.dumps(ensure_ascii=False)`` (what the request parsing and
  the engine's fact batches and matches used before).

Both must give byte-identical responses (checked before timing).  Requests: the ``small`` and
``large`` requests of ``bench/evaluate.py``.  Reported: the whole request through Flask's test client,
and the response's JSON alone (``app.json.response(result)``).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flask.json.provider import DefaultJSONProvider  # noqa: E402

from api import create_app  # noqa: E402
from evaluate import AS_OF, large_request, small_request  # noqa: E402  (bench/evaluate.py)
from policy import jsonio  # noqa: E402

_STDLIB = {
    "loads": lambda data, **options: json.loads(data, **options),
    "dumps_text": lambda obj: json.dumps(obj, ensure_ascii=False),
}


@contextlib.contextmanager
def standard_library(app) -> Iterator[None]:
    """The application as it was before orjson: Flask's own provider, ``json`` in the engine."""
    shipped_provider, saved = app.json, {name: getattr(jsonio, name) for name in _STDLIB}
    provider = DefaultJSONProvider(app)
    provider.sort_keys, provider.ensure_ascii = False, False
    app.json = provider
    for name, fn in _STDLIB.items():
        setattr(jsonio, name, fn)
    try:
        yield
    finally:
        app.json = shipped_provider
        for name, fn in saved.items():
            setattr(jsonio, name, fn)


def seconds_per_call(fn: Callable[[], Any], target: float) -> float:
    """Seconds per call over a run of about ``target`` seconds (calls calibrated by one call)."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    n = max(1, round(target / max(one, 1e-9)))
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


@click.command(help=__doc__.split("\n")[0])
@click.option("--quick", is_flag=True, help="0.2 s per run, 3 runs per configuration")
def main(quick: bool) -> None:
    target, repeats = (0.2, 3) if quick else (0.5, 7)
    db = Path(tempfile.mkdtemp(prefix="bench-json-")) / "r.db"
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{db}", "OPEN_EVALUATE": True, "DECISION_LOG": "off", "RELOAD_INTERVAL": 3600.0}
    )
    client = app.test_client()
    runtime = app.extensions["repolicy"]
    print(f"{repeats} runs of ~{target} s per configuration and measure, alternating; median per call")
    print("| request | facts | body | response | measure | stdlib | orjson | orjson / stdlib |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for size, facts in (("small", small_request()), ("large", large_request())):
        body = json.dumps({"as_of": AS_OF.isoformat(), "facts": facts}, ensure_ascii=False).encode("utf-8")

        def post() -> bytes:
            resp = client.post("/v1/evaluate", data=body, content_type="application/json")
            assert resp.status_code == 200, resp.get_data()[:300]
            return resp.get_data()

        result = runtime.evaluate(facts, AS_OF, decision_id="bench")

        def render() -> bytes:
            with app.app_context():
                return app.json.response(result).get_data()

        ours, ours_render = post(), render()
        with standard_library(app):
            theirs, theirs_render = post(), render()
        strip = lambda b: json.loads(b) | {"decision_id": ""}  # noqa: E731  (a new id per request)
        if strip(ours) != strip(theirs) or ours_render != theirs_render:
            print(f"ABORT: the two configurations answer the {size} request differently", file=sys.stderr)
            return 1
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(repeats):
            for measure, fn in (("POST /v1/evaluate", post), ("response JSON only", render)):
                times.setdefault((measure, "orjson"), []).append(seconds_per_call(fn, target))
                with standard_library(app):
                    times.setdefault((measure, "stdlib"), []).append(seconds_per_call(fn, target))
        for measure in ("POST /v1/evaluate", "response JSON only"):
            a, b = (statistics.median(times[(measure, c)]) * 1e3 for c in ("stdlib", "orjson"))
            print(
                f"| {size} | {sum(map(len, facts.values())):,} | {len(body):,} B | {len(ours):,} B | {measure} "
                f"| {a:.2f} ms | {b:.2f} ms | {b / a:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
