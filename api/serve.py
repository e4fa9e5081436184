"""Run the service under gunicorn: ``repolicy-serve`` (or ``python -m api.serve``).

Options come from the environment or the config file (api.config.setting): REPOLICY_BIND (default 127.0.0.1:8080),
REPOLICY_WORKERS (default: number of CPUs), REPOLICY_THREADS (default 1).
The app is created in the master before forking (``preload_app``), so the
rulesets are validated and compiled once and a bad ruleset stops start-up.
Each worker writes its queued decision-log rows when it stops (``worker_exit``),
so a graceful stop (SIGTERM, or gunicorn's max-requests recycling) loses none.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import shutil
import tempfile

from gunicorn.app.base import BaseApplication


def _worker_exit(server, worker) -> None:
    """In the worker, after its last request: write the decisions still queued (atexit would too, later)."""
    from api.decision_log import close_all
    close_all()


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api import create_app  # after PROMETHEUS_MULTIPROC_DIR is set (see main)
        from api.config import _bool, setting
        # the production server: activation waits for legal sign-off unless configured otherwise
        return create_app({"MAKER_CHECKER": _bool(setting("REPOLICY_MAKER_CHECKER", "true"))})


def main() -> None:
    # metrics of all workers in one /metrics (prometheus_client multiprocess mode); set before any import.
    # A folder made here is this server's alone: removed when the master exits.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        own = tempfile.mkdtemp(prefix="repolicy-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own
        master = os.getpid()
        atexit.register(lambda: os.getpid() == master and shutil.rmtree(own, ignore_errors=True))  # not in workers
    from api.config import setting
    from api.logs import configure
    configure(setting("REPOLICY_LOG_LEVEL", "INFO"))
    options = {
        "bind": setting("REPOLICY_BIND", "127.0.0.1:8080"),
        "workers": int(setting("REPOLICY_WORKERS", str(multiprocessing.cpu_count()))),
        # One thread a worker by default: evaluation is CPU-bound, so more threads only share the GIL
        # (bench/http.md: p99 63-65 ms with 1 against 78-98 ms with 4, same throughput).
        "threads": int(setting("REPOLICY_THREADS", "1")),
        "worker_class": "gthread",
        "preload_app": True,
        "child_exit": _child_exit,
        "worker_exit": _worker_exit,
    }
    _Server(options).run()


if __name__ == "__main__":
    main()
