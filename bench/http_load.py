"""HTTP benchmark: evaluate (small request) vs a trivial echo of the same body, under gunicorn, same run.

usage: python bench/http_load.py [--duration 10] [--connections 8] [--workers N] [--threads N]
       [--decision-log off,full] [--env NAME=A|B ...] [--compare OLD_TREE] [--rounds N] [--stalled N]
       [--citations refs]

Starts the service itself on a loopback port (SQLite registry in a temporary folder), then drives it
with `wrk` (Debian package) when installed, else with a bounded Python client.  Prints requests per
second, p50/p99 latency and the server's CPU time per request (gunicorn master and workers, from
/proc) for both endpoints, the ratio evaluate/echo of each server run, and the load average before and
after it; then the median of the rounds per variant.  Workers and threads are the server's own defaults
(``repolicy-serve`` as ``bin/serve`` starts it) unless given.  Targets (issue 14, not asserted): evaluate
at least 0.25 of the echo throughput, p99 under 20 ms at 8 connections.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import Server  # noqa: E402
from evaluate import small_request  # noqa: E402  (bench/evaluate.py)

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
"""


def run_wrk(url: str, body_file: str, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(WRK_LUA)
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", lua.name, url],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY": body_file},
        timeout=duration + 60,
    ).stdout
    os.unlink(lua.name)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "rps": rps,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "requests": requests,
    }


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its children (gunicorn master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_python(url: str, body: bytes, duration: int, connections: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def client() -> None:
        local = []
        while time.monotonic() < stop:
            req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    resp.read()
            except Exception:
                with lock:
                    errors[0] += 1
            local.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": len(latencies) / duration,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "non_2xx": errors[0],
    }


def stalled_probe(server: Server, body: bytes, stalled: int) -> dict:
    """Seconds /healthz and one evaluate take while ``stalled`` clients hold a connection each
    (headers announcing 1 MB, then one byte); None: no answer within 10 s."""
    import socket

    holders = []
    for _ in range(stalled):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{")
        holders.append(s)
    time.sleep(0.5)
    out = {}
    try:
        for name, path, data in (("healthz", "/healthz", None), ("evaluate", "/v1/evaluate", body)):
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(urllib.request.Request(server.url + path, data=data), timeout=10).read()
                out[name] = time.perf_counter() - t0
            except OSError:
                out[name] = None
    finally:
        for s in holders:
            s.close()
    return out


@dataclass(frozen=True)
class LoadOptions:
    """The command line's choices each run of a tree uses."""

    duration: int
    connections: int
    workers: int | None
    threads: int | None
    citations: str | None
    stalled: int


def run_tree(root: Path, options: LoadOptions, body: bytes, env: dict[str, str]) -> dict:
    """The benchmark on one source tree: echo and evaluate under wrk, then the stalled-client probe."""
    tmp = Path(tempfile.mkdtemp(prefix="repolicy-http-"))
    body_file = tmp / "body.json"
    body_file.write_bytes(body)
    server = Server(
        {
            "REPOLICY_DATABASE_URL": f"sqlite:///{tmp / 'r.db'}",
            "REPOLICY_OPEN_EVALUATE": "1",
            "REPOLICY_ECHO_ENDPOINT": "1",
            "REPOLICY_DECISION_LOG": env.pop("decision_log"),
            "REPOLICY_LOG_LEVEL": "WARNING",
            "LOG_DIR": str(tmp),
            **env,
        },
        workers=options.workers,
        threads=options.threads,
        root=root,
    )
    results: dict = {}
    try:
        query = f"?citations={options.citations}" if options.citations else ""
        for name, path in (("echo", "/v1/echo"), ("evaluate", "/v1/evaluate" + query)):
            for _ in range(2):  # warm-up
                urllib.request.urlopen(
                    urllib.request.Request(server.url + path, data=body, method="POST"), timeout=10
                ).read()
            cpu0 = process_tree_cpu(server.proc.pid)
            if shutil.which("wrk"):
                results[name] = run_wrk(server.url + path, str(body_file), options.duration, options.connections)
            else:
                results[name] = run_python(server.url + path, body, options.duration, options.connections)
            served = results[name].get("requests") or results[name]["rps"] * options.duration
            results[name]["server_cpu_ms"] = (process_tree_cpu(server.proc.pid) - cpu0) / max(served, 1) * 1000
        if options.stalled:
            results["stalled"] = stalled_probe(server, body, options.stalled)
    finally:
        server.stop()
    return results


@click.command()
@click.option("--duration", type=int, default=10, show_default=True, help="seconds each endpoint is loaded")
@click.option("--connections", type=int, default=8, show_default=True)
@click.option("--workers", type=int, default=None, help="default: the server's own (one per CPU)")
@click.option("--threads", type=int, default=None, help="default: the server's own")
@click.option(
    "--decision-log",
    default="off",
    show_default=True,
    help="off, digest, full, or several (off,full): side by side",
)
@click.option("--citations", type=click.Choice(["inline", "shared", "refs"]), help="?citations= on every evaluate")
@click.option(
    "--env",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="a server setting; repeat; 'A|B' in a value runs both, side by side",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path),
    help="another source tree (e.g. `git archive` of an older commit) run side by side, alternating",
)
@click.option("--rounds", type=int, default=1, show_default=True)
@click.option(
    "--stalled", type=int, default=0, show_default=True, help="then time /healthz and evaluate with N stalled clients"
)
def main(
    duration: int,
    connections: int,
    workers: int | None,
    threads: int | None,
    decision_log: str,
    citations: str | None,
    settings: tuple[str, ...],
    compare: Path | None,
    rounds: int,
    stalled: int,
) -> None:
    """HTTP load on the service under gunicorn: echo and evaluate, side by side across variants."""
    options = LoadOptions(duration, connections, workers, threads, citations, stalled)
    body = json.dumps({"as_of": "2021-12-31", "facts": small_request()}).encode()
    variants: list[tuple[str, Path, dict[str, str]]] = [("this tree", ROOT, {})]
    if compare:
        variants.insert(0, (f"tree {compare.name}", compare.resolve(), {}))
    modes = decision_log.split(",")
    if not set(modes) <= {"off", "digest", "full"}:
        raise click.BadParameter("takes off, digest and/or full", param_hint="--decision-log")
    variants = [
        (f"{label} log {mode}" if len(modes) > 1 else label, root, {**env, "decision_log": mode})
        for label, root, env in variants
        for mode in modes
    ]
    for setting in settings:
        name, _, values = setting.partition("=")
        variants = [
            (f"{label} {name}={v}" if "|" in values else label, root, {**env, name: v})
            for label, root, env in variants
            for v in values.split("|")
        ]
    tool = "wrk" if shutil.which("wrk") else "python client"
    print(
        f"HTTP benchmark: {tool}, {connections} connections, {duration} s each, gunicorn "
        f"{workers or 'default'} workers x {threads or 'default'} threads, body {len(body):,} bytes, "
        f"decision log {decision_log}, {os.cpu_count()} CPUs (load generator on the same machine)"
    )
    print(
        "| variant | round | endpoint | requests/s | p50 ms | p99 ms | non-2xx | server CPU ms/request "
        "| evaluate / echo | load average before / after |"
        + (f" with {stalled} stalled clients: healthz s / evaluate s |" if stalled else "")
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |" + (" ---: |" if stalled else ""))
    summary: dict[str, list[tuple[float, float]]] = {}
    for round_ in range(1, rounds + 1):
        for label, root, env in variants:
            before = os.getloadavg()[0]
            results = run_tree(root, options, body, dict(env))
            load = f"{before:.1f} / {os.getloadavg()[0]:.1f}"
            probed = results.pop("stalled", None)
            ratio = results["evaluate"]["rps"] / results["echo"]["rps"]
            summary.setdefault(label, []).append((ratio, results["evaluate"]["p99_ms"]))
            for name, r in results.items():
                probe = ""
                if probed is not None:
                    probe = (
                        " " + " / ".join("no answer in 10" if v is None else f"{v:.2f}" for v in probed.values()) + " |"
                        if name == "evaluate"
                        else " |"
                    )
                print(
                    f"| {label} | {round_} | {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
                    f"| {r['non_2xx']} | {r['server_cpu_ms']:.2f} | {f'{ratio:.2f}' if name == 'evaluate' else ''} "
                    f"| {load} |{probe}",
                    flush=True,
                )
    print("\n| variant | evaluate / echo, median of rounds | evaluate p99 ms, median | targets (>= 0.25, < 20 ms) |")
    print("| --- | ---: | ---: | --- |")
    for label, runs in summary.items():
        ratio, p99 = statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs)
        met = " and ".join(
            ("ratio met" if ratio >= 0.25 else "ratio not met", "p99 met" if p99 < 20 else "p99 not met")
        )
        print(f"| {label} | {ratio:.2f} | {p99:.1f} | {met} |")


if __name__ == "__main__":
    main()
