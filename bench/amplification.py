"""What one large evaluate request costs the service: response bytes, worker memory, decision-log bytes.

usage: python bench/amplification.py [--copies 2400] [--compare OLD_TREE]

Sends one request made of the over-quota example copied for N enterprises (24 joinable facts each:
2,400 copies are about 57,600 facts and 8 MB, under the 8 MiB body limit) to a fresh server (1 worker, default settings, SQLite in a
temporary folder), then reports the seconds to answer, the response's size, the worker's peak resident
memory (VmHWM) and memory after the request (VmRSS), and the bytes the decision took in the database.
``--compare`` runs an older tree (e.g. a ``git archive`` of it) first, side by side.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Server  # noqa: E402


def many_enterprises(n: int) -> dict:
    base = json.loads((ROOT / "examples" / "over-quota.json").read_text())
    facts = base["facts"]
    out: dict = {"groups": facts["groups"]}
    for key in ("enterprises", "allocations", "production", "reports"):
        out[key] = [
            {**item, **{ref: f"E{i}" for ref in ("id", "enterprise", "reporter") if ref in item}}
            for i in range(n)
            for item in facts[key]
        ]
    return {**base, "facts": out}


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run(root: Path, body: bytes) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="repolicy-amp-"))
    db = tmp / "r.db"
    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{db}",
            "REPOLICY_OPEN_EVALUATE": "1",
            "REPOLICY_LOG_LEVEL": "WARNING",
            "LOG_DIR": str(tmp),
        },
        workers=1,
        threads=None,
        root=root,
    )
    try:
        pid = int(Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()[0])
        rss_before = status_kb(pid, "VmRSS")
        t0 = time.perf_counter()
        req = urllib.request.Request(
            server.url + "/v1/evaluate", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=900) as resp:
                status, answer = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        seconds = time.perf_counter() - t0
        time.sleep(3)  # the decision log writes in the background
        out = {
            "status": status,
            "seconds": seconds,
            "response_bytes": len(answer),
            "rss_before_mb": rss_before / 1024,
            "peak_mb": status_kb(pid, "VmHWM") / 1024,
            "rss_after_mb": status_kb(pid, "VmRSS") / 1024,
        }
        parsed = json.loads(answer)
        out["violations_returned"] = len(parsed.get("violations", []))
        out["violations_found"] = parsed.get("summary", {}).get("violations")
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        out["db_bytes"] = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(input) + LENGTH(result)), 0) FROM decisions"
        ).fetchone()[0]
    return out


@click.command()
@click.option("--copies", type=int, default=2400, show_default=True, help="enterprises in the one request")
@click.option("--compare", type=click.Path(path_type=Path), help="an older source tree (e.g. `git archive`), run first")
def main(copies: int, compare: Path | None) -> None:
    """What one large evaluate request costs the service: response bytes, worker memory, decision-log bytes."""
    request = many_enterprises(copies)
    body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
    facts = sum(len(v) for v in request["facts"].values())
    print(f"one request: {copies} enterprises, {facts:,} facts, {len(body) / 1e6:.1f} MB; 1 worker, defaults")
    print(
        "| tree | status | seconds | response MB | violations returned / found | worker MB before / peak / after "
        "| decision in the database MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, root in ([(f"tree {compare.name}", compare.resolve())] if compare else []) + [("this tree", ROOT)]:
        r = run(root, body)
        print(
            f"| {label} | {r['status']} | {r['seconds']:.1f} | {r['response_bytes'] / 1e6:.1f} | "
            f"{r['violations_returned']:,} / {r['violations_found']:,} | {r['rss_before_mb']:.0f} / "
            f"{r['peak_mb']:.0f} / {r['rss_after_mb']:.0f} | {r['db_bytes'] / 1e6:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
