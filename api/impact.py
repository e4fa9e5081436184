"""Impact preview as a job: what a candidate version would change in the recorded decisions.

- ``POST /v1/rulesets/impact?limit=N`` (regulator; ``limit=all`` for every
  recorded decision, default 200): the candidate YAML is validated (422 as at
  publication), a job is recorded and **202** returned at once with its id
  and ``Location``.
- ``GET /v1/rulesets/impact/<job_id>`` (regulator): status (``queued``,
  ``running``, ``done``, ``failed``), progress (``done`` of ``total``) and,
  when done, the report of :mod:`policy.impact`: counts first (decisions
  examined, decisions changed, findings added and removed by rule), then the
  changed decisions.

Jobs are rows of the store (``impact_jobs``), so any worker of any instance
answers the GET.  The job runs in a background thread of the process that
accepted it, one job at a time per process; a process stopped mid-job leaves
its job ``running`` with an ``updated_at`` that no longer moves, which the GET
reports as ``stale``.

Each decision is evaluated twice (active versions, then the candidate in place
of what it would retire), but only under the candidate's own ruleset: rulesets
are evaluated independently, so the others' findings are the same both ways.
Beyond ``impact_inline_max`` decisions (a setting) the work is spread over a
:class:`~concurrent.futures.ProcessPoolExecutor` with one process per core.
The pool uses the ``spawn`` start method: a serving process has threads (the
decision log's writer, the registry poller) and durable_rules handles bound to
threads, which a fork would copy half-held; each spawned process instead
compiles the few ruleset versions it needs from their YAML text.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import multiprocessing
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

from flask import current_app, g, jsonify, request
from flask_smorest import Blueprint
from policy.store import SQLAlchemyError

from api.errors import ApiError
from api.openapi import YAML, operation, query, request_content
from api.runtime import Runtime
from api.schemas import ImpactAcceptedSchema, ImpactJobSchema
from engine import Layout
from policy.impact import ImpactTally, compare
from policy.ids import new_id
from policy.instruments import Instrument
from policy.loader import RulesetInvalid, load_ruleset
from policy.model import Ruleset
from policy.registry import Registry
from policy.store import Store, count_decision_inputs, create_impact_job, decision_inputs, impact_job, update_impact_job

log = logging.getLogger(__name__)

bp = Blueprint("impact", __name__, description="What a candidate version would change in the logged decisions")

PAGE = 250  # decisions per task sent to a worker process
STALE_SECONDS = 120.0  # a running job not updated for this long is reported stale
PROGRESS_EVERY = 0.5  # seconds between progress writes

Row = tuple[str, str, str, str]  # decision_id, at, as_of, input JSON text


# ---------------------------------------------------------------------- comparing decisions
class Comparer:
    """Evaluates recorded inputs under the current and the candidate versions of one ruleset."""

    def __init__(self, before: Runtime, after: Runtime, max_facts: int):
        self.before, self.after, self.max_facts = before, after, max_facts

    def compare_rows(self, rows: Iterable[Row]) -> ImpactTally:
        from api.evaluate_input import validate_request

        tally = ImpactTally()
        for decision_id, at, as_of_text, input_text in rows:
            try:
                data = validate_request(json.loads(input_text), self.max_facts)
                if data.get("rulesets"):
                    tally.skipped_pinned += 1  # a pinned request is not affected by activation
                    continue
                as_of = dt.date.fromisoformat(as_of_text)
                before = self.before.evaluate(data["facts"], as_of)["violations"]
                after = self.after.evaluate(data["facts"], as_of)["violations"]
            except Exception as exc:  # an input that no longer validates or evaluates: named, not dropped
                tally.not_evaluated.append({"decision_id": decision_id, "error": _error_text(exc)})
                continue
            tally.add({"decision_id": decision_id, "at": at}, compare(before, after))
        return tally


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


@dataclass(frozen=True)
class VersionSet:
    """Active ruleset versions as YAML text: what a worker process compiles (picklable, small)."""

    sources: tuple[tuple[str, str], ...]  # (ref, YAML source)

    @classmethod
    def of(cls, runtime: Runtime, ruleset_id: str) -> VersionSet:
        return cls(tuple((rs.ref, rs.source) for rs in runtime.registry.active() if rs.id == ruleset_id))

    @staticmethod
    def compiled(runtime: Runtime, ruleset_id: str) -> Runtime:
        """The same active versions in this process, sharing ``runtime``'s compiled engines (no recompiling)."""
        rulesets = [rs for rs in runtime.registry.active() if rs.id == ruleset_id]
        return Runtime(
            runtime.instruments,
            Registry(rulesets, {rs.ref: "active" for rs in rulesets}),
            engines={rs.ref: runtime.engine(rs) for rs in rulesets},
        )

    def runtime(self, instruments: Mapping[str, Instrument], layout: Layout) -> Runtime:
        """Parsed and compiled in this process (a worker process)."""
        rulesets = [load_ruleset(source, f"registry:{ref}", instruments) for ref, source in self.sources]
        return Runtime(instruments, Registry(rulesets, {rs.ref: "active" for rs in rulesets}), layout=layout)


_worker_comparer: Comparer | None = None


def _init_worker(
    instruments: Mapping[str, Instrument], before: VersionSet, after: VersionSet, max_facts: int, layout: Layout
) -> None:
    """Runs once in each worker process: compile the two version sets."""
    global _worker_comparer
    _worker_comparer = Comparer(before.runtime(instruments, layout), after.runtime(instruments, layout), max_facts)


def _compare_in_worker(rows: list[Row]) -> ImpactTally:
    assert _worker_comparer is not None
    return _worker_comparer.compare_rows(rows)


# ---------------------------------------------------------------------- running a job
@dataclass
class ImpactJob:
    """Everything a job needs, fixed when it is accepted."""

    job_id: str
    store: Store
    limit: int | None
    total: int
    instruments: Mapping[str, Instrument]
    before: VersionSet
    after: VersionSet
    max_facts: int
    inline: Comparer  # the accepting process's compiled engines, for small jobs
    on_end: Any  # called when the job ends (frees the candidate's engine)
    inline_max: int = 1000  # up to this many decisions: no process pool (setting impact_inline_max)
    workers: int = 1  # processes of the pool beyond (setting impact_workers)
    layout: Layout = Layout()  # the engines' partitioning (settings), for the pool's processes


class JobRunner:
    """One background thread per process runs the accepted jobs in turn."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._executor = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="impact-job")
        self._queued: set[tuple[Store, str]] = set()
        self._lock = threading.Lock()

    def submit(self, job: ImpactJob) -> None:
        with self._lock:
            self._queued.add((job.store, job.job_id))
        self._executor.submit(self._run, job)

    def _touch_queued(self) -> None:
        """Queued jobs of this process are alive too: their ``updated_at`` moves with the running one."""
        with self._lock:
            queued = list(self._queued)
        for store, job_id in queued:
            update_impact_job(store, job_id)

    def _run(self, job: ImpactJob) -> None:
        with self._lock:
            self._queued.discard((job.store, job.job_id))
        started = time.monotonic()
        try:
            update_impact_job(job.store, job.job_id, status="running")
            tally = self._compare(job)
            report = tally.report()
            report["seconds"] = round(time.monotonic() - started, 3)
            update_impact_job(
                job.store,
                job.job_id,
                status="done",
                done=tally.examined + tally.skipped_pinned + len(tally.not_evaluated),
                result=json.dumps(report, ensure_ascii=False),
            )
        except Exception as exc:
            log.exception("impact job %s failed", job.job_id)
            try:
                update_impact_job(job.store, job.job_id, status="failed", error=_error_text(exc))
            except Exception:  # pragma: no cover - the database is gone too; the GET shows it stale
                log.exception("impact job %s: could not record the failure", job.job_id)
        finally:
            job.on_end()

    def _compare(self, job: ImpactJob) -> ImpactTally:
        tally = ImpactTally()
        last = [time.monotonic()]

        def progress(force: bool = False) -> None:
            now = time.monotonic()
            if force or now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                update_impact_job(
                    job.store, job.job_id, done=tally.examined + tally.skipped_pinned + len(tally.not_evaluated)
                )
                self._touch_queued()

        pages = decision_inputs(job.store, job.limit, page=PAGE)
        if job.total <= job.inline_max or job.workers <= 1:
            for rows in pages:
                tally.merge(job.inline.compare_rows(rows))
                progress()
            return tally
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(
            max_workers=job.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(dict(job.instruments), job.before, job.after, job.max_facts, job.layout),
        ) as pool:
            running: set[cf.Future] = set()
            for rows in pages:
                running.add(pool.submit(_compare_in_worker, rows))
                if len(running) >= 2 * job.workers:  # bounded: memory holds a few pages, not the log
                    finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                    for f in finished:
                        tally.merge(f.result())
                    progress()
            for f in cf.as_completed(running):
                tally.merge(f.result())
                progress()
        return tally


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def runner() -> JobRunner:
    """This process's runner (a forked worker gets its own: threads do not survive a fork)."""
    global _runner
    with _runner_lock:
        if _runner is None or _runner._pid != os.getpid():
            _runner = JobRunner()
        return _runner


# ---------------------------------------------------------------------- HTTP
def _runtime() -> Runtime:
    return current_app.extensions["repolicy"]


def _store() -> Store:
    store = _runtime().store
    if store is None:
        raise ApiError(503, "no_registry", "this instance has no database")
    return store


def _unavailable(exc: SQLAlchemyError) -> ApiError:
    return ApiError(
        503, "database_unavailable", f"the registry database is unavailable ({type(exc).__name__}); try again later"
    )


MAX_DECISIONS = 10**12  # no cap of its own beyond what the store holds: `all` is the usual way to ask for everything


DEFAULT_LIMIT = 200
_LIMIT_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits stay within the database's 64-bit integers


def parse_limit(text: str | None, path: str) -> int | None:
    """How many recorded decisions to examine, as ``?limit=`` and the draft page's form take it: the newest N
    (ASCII digits, 1 to MAX_DECISIONS; DEFAULT_LIMIT when not given) or ``all`` (None); 400 naming ``path`` otherwise."""
    if text == "all":
        return None
    if text is None:
        return DEFAULT_LIMIT
    if _LIMIT_DIGITS.fullmatch(text) and 1 <= int(text) <= MAX_DECISIONS:
        return int(text)
    raise ApiError(
        400,
        "invalid_request",
        "limit is a positive integer or 'all'",
        [{"path": path, "message": "a positive integer or 'all'"}],
    )


def _limit() -> int | None:
    """``?limit=``: the newest N recorded decisions, or ``all``."""
    return parse_limit(request.args.get("limit"), "?limit")


@bp.post("/v1/rulesets/impact")
@bp.alt_response(
    202,
    schema=ImpactAcceptedSchema,
    success=True,
    description="Accepted: the job's id and Location",
    headers={"Location": {"description": "the job", "schema": {"type": "string"}}},
)
@operation(
    "regulator",
    errors={
        400: "?limit is not a positive integer or all",
        422: "The candidate does not validate (issues with file, line, column, rule)",
        503: None,
    },
    parameters=[
        query(
            "limit",
            f"the newest N logged decisions, or all (default {DEFAULT_LIMIT})",
            {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_DECISIONS},
                    {"type": "string", "enum": ["all"]},
                ]
            },
        ),
        query("file", "the file name quoted in issues (default: request body)"),
    ],
    request_body=request_content(YAML, {"type": "string"}, "The candidate ruleset file"),
)
def start_impact():
    """Start an impact preview of a candidate version (a job)"""
    runtime = _runtime()
    limit = _limit()
    try:
        candidate = load_ruleset(
            request.get_data(cache=False), request.args.get("file", "request body"), runtime.instruments
        )
    except RulesetInvalid as exc:
        raise ApiError(
            422,
            "invalid_ruleset",
            f"{len(exc.issues)} problem(s) in the ruleset",
            issues=[i.as_dict() for i in exc.issues],
        ) from None
    body = start_job(runtime, candidate, g.principal.name, limit)
    return jsonify(body), 202, {"Location": body["location"]}


def start_job(runtime: Runtime, candidate: Ruleset, actor: str, limit: int | None) -> dict[str, Any]:
    """Record an impact job for a validated candidate and hand it to this process's runner (also for the pages)."""
    store = _store()
    current_app.extensions["repolicy_decisions"].flush()  # this process's queued decisions count too
    replaced = runtime.retired_by(candidate)
    trial = runtime.with_candidate(candidate, activate=True)
    before, after = VersionSet.of(runtime, candidate.id), VersionSet.of(trial, candidate.id)
    inline = Comparer(
        VersionSet.compiled(runtime, candidate.id),
        VersionSet.compiled(trial, candidate.id),
        current_app.config["MAX_FACTS"],
    )
    job_id = new_id()
    try:
        total = count_decision_inputs(store, limit)
        create_impact_job(store, job_id, actor, candidate.ref, total)
    except SQLAlchemyError as exc:
        trial.engine(candidate).close()
        raise _unavailable(exc) from None
    runner().submit(
        ImpactJob(
            job_id,
            store,
            limit,
            total,
            runtime.instruments,
            before,
            after,
            current_app.config["MAX_FACTS"],
            inline,
            on_end=lambda: trial.engine(candidate).close(),
            inline_max=current_app.config["IMPACT_INLINE_MAX"],
            workers=current_app.config["IMPACT_WORKERS"] or os.cpu_count() or 1,
            layout=runtime.layout,
        )
    )
    return {
        "job_id": job_id,
        "status": "queued",
        "candidate": candidate.ref,
        "replaces": replaced,
        "total": total,
        "location": f"/v1/rulesets/impact/{job_id}",
    }


@bp.get("/v1/rulesets/impact/<name:job_id>")
@bp.alt_response(200, schema=ImpactJobSchema, success=True, description="Status, progress and, when done, the report")
@operation("regulator", errors={404: "No such job", 503: None})
def get_impact(job_id: str):
    """An impact job: status, progress and, when done, what the candidate changes"""
    return jsonify(job_state(job_id))


def job_state(job_id: str) -> dict[str, Any]:
    """A job's status, progress and, when done, its report (404 when there is no such job)."""
    try:
        row = impact_job(_store(), job_id)
    except SQLAlchemyError as exc:
        raise _unavailable(exc) from None
    if row is None:
        raise ApiError(404, "not_found", f"no impact job {job_id}")
    updated = row["updated_at"]
    if updated.tzinfo is None:  # SQLite keeps no zone; the store writes UTC
        updated = updated.replace(tzinfo=dt.UTC)
    created = row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=dt.UTC)
    body: dict[str, Any] = {
        "job_id": job_id,
        "status": row["status"],
        "candidate": row["candidate"],
        "actor": row["actor"],
        "total": row["total"],
        "done": row["done"],
        "created_at": created.isoformat(),
        "updated_at": updated.isoformat(),
    }
    if row["status"] in ("queued", "running"):
        body["stale"] = (dt.datetime.now(dt.UTC) - updated).total_seconds() > STALE_SECONDS
    if row["result"] is not None:
        body["result"] = json.loads(row["result"])
    if row["error"] is not None:
        body["error"] = row["error"]
    return body
