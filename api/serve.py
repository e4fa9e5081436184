"""Run the service under gunicorn: ``repolicy-serve`` (or ``python -m api.serve``).

Options come from the environment or the config file (api.config.setting): REPOLICY_BIND (default 127.0.0.1:8080),
REPOLICY_WORKERS (default: number of CPUs), REPOLICY_THREADS (connection threads a worker, default 16),
REPOLICY_WORKER_MAX_MEMORY_MB (a worker over it is recycled after its request, default 1024),
REPOLICY_MAX_REQUESTS (recycled after so many, with 10% jitter, default 50000),
REPOLICY_EVALUATION_SLOTS (requests with a body run at once in a worker, default 1), REPOLICY_READ_TIMEOUT
(seconds a client may take to send a request body, and to send anything at all; default 10): see api.connections.
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


def _resident_bytes() -> int:
    """This process's resident memory (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _post_request(worker, req, environ, resp) -> None:
    """A worker whose memory grew past REPOLICY_WORKER_MAX_MEMORY_MB is recycled: it finishes the requests
    it holds and exits, and the master starts a fresh one (memory a large request left behind is returned)."""
    ceiling = _MEMORY_CEILING
    if ceiling and worker.alive:
        rss = _resident_bytes()
        if rss > ceiling:
            worker.log.warning("worker %s holds %d MB, over the ceiling of %d MB: restarting it after its "
                               "current requests", os.getpid(), rss >> 20, ceiling >> 20)
            worker.alive = False


_MEMORY_CEILING = 0  # bytes; set by main() from REPOLICY_WORKER_MAX_MEMORY_MB


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
        from api.connections import BufferedRequests
        # the production server: activation waits for legal sign-off unless configured otherwise
        app = create_app({"MAKER_CHECKER": _bool(setting("REPOLICY_MAKER_CHECKER", "true"))})
        app.wsgi_app = BufferedRequests(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"],
                                        float(setting("REPOLICY_READ_TIMEOUT", "10")),
                                        int(setting("REPOLICY_EVALUATION_SLOTS", "1")))
        return app


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
    global _MEMORY_CEILING
    _MEMORY_CEILING = int(float(setting("REPOLICY_WORKER_MAX_MEMORY_MB", "1024")) * 1024 * 1024)
    max_requests = int(setting("REPOLICY_MAX_REQUESTS", "50000"))
    options = {
        "bind": setting("REPOLICY_BIND", "127.0.0.1:8080"),
        "workers": int(setting("REPOLICY_WORKERS", str(multiprocessing.cpu_count()))),
        # Many connection threads, so that slow clients cannot hold them all, but one evaluation at a time
        # (REPOLICY_EVALUATION_SLOTS): evaluation is CPU-bound, and threads evaluating together only share
        # the GIL (bench/http.md: p99 63-65 ms with 1 thread against 78-98 ms with 4, same throughput).
        "threads": int(setting("REPOLICY_THREADS", "16")),
        "worker_class": "api.connections.Worker",
        "preload_app": True,
        "child_exit": _child_exit,
        "post_request": _post_request,
        # recycled after so many requests (10% jitter, so that workers do not restart together)
        "max_requests": max_requests,
        "max_requests_jitter": max_requests // 10,
        "worker_exit": _worker_exit,
    }
    _Server(options).run()


if __name__ == "__main__":
    main()
