"""Answered decisions a crash loses, per decision-log commit mode: ``python bench/crash_loss.py [--seconds 6]``.

For each mode (``durable``, ``async``): a fresh server (2 workers, SQLite in a temporary folder), 4 clients
evaluating; one worker is killed with SIGKILL a second in; then the server is given 15 s to write what it
can, and the decisions answered 200 but not in the database are counted.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import load, logged_ids, workers_of  # noqa: E402
from servers import Server  # noqa: E402


def run(mode: str, seconds: float) -> tuple[int, int]:
    tmp = Path(tempfile.mkdtemp(prefix="repolicy-crash-"))
    url = f"sqlite:///{tmp / 'r.db'}"
    server = Server(
        {
            "REPOLICY_DATABASE_URL": url,
            "REPOLICY_OPEN_EVALUATE": "1",
            "LOG_DIR": str(tmp),
            "REPOLICY_LOG_LEVEL": "WARNING",
            "REPOLICY_DECISION_LOG_COMMIT": mode,
        },
        workers=2,
        threads=None,
    )
    answered: list[str] = []
    try:
        load(server, seconds, answered, during=lambda: os.kill(workers_of(server)[0], signal.SIGKILL))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not set(answered) <= set(logged_ids(url)):
            time.sleep(0.5)
    finally:
        server.stop()
    return len(answered), len(set(answered) - set(logged_ids(url)))


@click.command()
@click.option("--seconds", type=float, default=6, show_default=True, help="how long the clients evaluate")
@click.option("--rounds", type=int, default=2, show_default=True)
def main(seconds: float, rounds: int) -> None:
    """Answered decisions a crash loses, per decision-log commit mode."""
    print("| mode | round | answered 200 | answered but never stored |")
    print("| --- | ---: | ---: | ---: |")
    for round_ in range(1, rounds + 1):
        for mode in ("durable", "async"):
            answered, lost = run(mode, seconds)
            print(f"| {mode} | {round_} | {answered:,} | {lost} |", flush=True)


if __name__ == "__main__":
    main()
