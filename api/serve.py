"""Run the service under gunicorn: ``repolicy-serve`` (or ``python -m api.serve``).

Its options are settings (:mod:`api.config`, read once in :func:`main` and passed to the app): ``bind``,
``workers``, ``threads`` (connection threads a worker), ``worker_max_memory_mb`` (a worker over it is recycled
after its request), ``max_requests`` (recycled after so many, with 10% jitter), ``evaluation_slots`` (requests
with a body run at once in a worker) and ``read_timeout`` (seconds a client may take to send a request body,
and to send anything at all): see api.connections and README.md's table.
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

from typing import TYPE_CHECKING

from gunicorn.app.base import BaseApplication

if TYPE_CHECKING:
    from api.config import Settings


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
    """A worker whose memory grew past the ``worker_max_memory_mb`` setting is recycled: it finishes the requests
    it holds and exits, and the master starts a fresh one (memory a large request left behind is returned)."""
    ceiling = _MEMORY_CEILING
    if ceiling and worker.alive:
        rss = _resident_bytes()
        if rss > ceiling:
            worker.log.warning(
                "worker %s holds %d MB, over the ceiling of %d MB: restarting it after its current requests",
                os.getpid(),
                rss >> 20,
                ceiling >> 20,
            )
            worker.alive = False


_MEMORY_CEILING = 0  # bytes; set by main() from the worker_max_memory_mb setting


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class _Server(BaseApplication):
    def __init__(self, options: dict, settings: Settings):
        self.options, self.settings = options, settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from api import create_app  # after PROMETHEUS_MULTIPROC_DIR is set (see main)
        from api.connections import BufferedRequests

        settings = self.settings
        # the production server: activation waits for legal sign-off unless configured otherwise
        app = create_app({"MAKER_CHECKER": settings.maker_checker is not False}, settings)
        app.wsgi_app = BufferedRequests(
            app.wsgi_app, app.config["MAX_CONTENT_LENGTH"], settings.read_timeout, settings.evaluation_slots
        )
        return app


def main() -> None:
    # metrics of all workers in one /metrics (prometheus_client multiprocess mode); set before any import.
    # A folder made here is this server's alone: removed when the master exits.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        own = tempfile.mkdtemp(prefix="repolicy-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own
        master = os.getpid()
        atexit.register(lambda: os.getpid() == master and shutil.rmtree(own, ignore_errors=True))  # not in workers
    from api.config import load_settings
    from api.connections import set_read_timeout
    from api.logs import configure

    settings = load_settings()  # once: the app, the workers and gunicorn's options all use these
    configure(settings.log_level)
    set_read_timeout(settings.read_timeout)  # before the fork: the workers inherit it
    global _MEMORY_CEILING
    _MEMORY_CEILING = int(settings.worker_max_memory_mb * 1024 * 1024)
    max_requests = settings.max_requests
    options = {
        "bind": settings.bind,
        "workers": settings.workers or multiprocessing.cpu_count(),
        # Many connection threads, so that slow clients cannot hold them all, but one evaluation at a time
        # (REPOLICY_EVALUATION_SLOTS): evaluation is CPU-bound, and threads evaluating together only share
        # the GIL (bench/http.md: p99 63-65 ms with 1 thread against 78-98 ms with 4, same throughput).
        "threads": settings.threads,
        "worker_class": "api.connections.Worker",
        "preload_app": True,
        "child_exit": _child_exit,
        "post_request": _post_request,
        # recycled after so many requests (10% jitter, so that workers do not restart together)
        "max_requests": max_requests,
        "max_requests_jitter": max_requests // 10,
        "worker_exit": _worker_exit,
    }
    _Server(options, settings).run()


if __name__ == "__main__":
    main()
