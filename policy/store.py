"""The registry's durable store: ruleset versions and the audit log, through SQLAlchemy.

SQLite (a file, no server) by default, PostgreSQL by URL.  Versions are
immutable: a row's YAML and digest never change; only its ``status`` moves
(draft -> active -> retired, and back to active for a rollback).  Every change
is appended to ``audit_log`` in the same transaction, and bumps the single
``registry_generation`` counter that running instances poll to pick changes up.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any, cast, overload
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Column,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

# The database's errors, for the application to catch by these names: only this module imports sqlalchemy
# (the import contracts in setup.cfg).
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError  # noqa: F401 - re-exported

from policy import jsonio
from policy.periods import periods_overlap

metadata = MetaData()

versions = Table(
    "ruleset_versions",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("ruleset_id", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("instrument", String(128), nullable=False),
    Column("legal_status", String(16), nullable=False),
    Column("effective_from", String(10)),
    Column("effective_to", String(10)),
    Column("source", Text, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("author", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    UniqueConstraint("ruleset_id", "version", name="uq_ruleset_version"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("ruleset_id", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("digest_before", String(80)),
    Column("digest_after", String(80)),
    Column("detail", Text),
)

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("caller", String(128)),
    Column("as_of", String(10), nullable=False),
    Column("rulesets", Text, nullable=False),  # JSON: [{id, version, digest}]
    Column("input", Text),  # JSON request body, or NULL when only its digest is kept
    Column("input_digest", String(80), nullable=False),
    Column("result", Text, nullable=False),  # JSON response body
    Column("violations", Integer, nullable=False),
)

# A legal reviewer's sign-off of one rule of one version.  ``rule_digest`` fingerprints what the rule
# means (policy.review.rule_digest): a later version whose rule has the same digest is still approved,
# a changed rule is unreviewed until approved again.  Rows are only ever added.
approvals = Table(
    "rule_approvals",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ruleset_id", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("rule_digest", String(80), nullable=False),
    Column("reviewer", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    Index("ix_rule_approvals_rule", "ruleset_id", "rule_id"),
)

# A regulator's emergency activation of a version before some of its changed rules were signed off: one
# row per unsigned rule, with the written reason.  Shown beside the rule until a sign-off of its digest
# exists.  Rows are only ever added.
overrides = Table(
    "activation_overrides",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ruleset_id", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("rule_digest", String(80), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_activation_overrides_rule", "ruleset_id", "rule_id"),
)

# Published texts of legal instruments.  A revision is never changed: a correction is published as the
# next revision of the same instrument id, and every earlier one stays readable for the rulesets and
# decisions that cited it.  The newest revision of an id is the one served.
instrument_revisions = Table(
    "instrument_revisions",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("instrument_id", String(128), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("legal_status", String(16), nullable=False),
    Column("text_available", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("author", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    UniqueConstraint("instrument_id", "revision", name="uq_instrument_revision"),
)

generation = Table(
    "registry_generation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class VersionRow:
    ruleset_id: str
    version: str
    status: str
    instrument: str
    legal_status: str
    effective_from: str | None
    effective_to: str | None
    source: str
    digest: str
    author: str
    created_at: dt.datetime
    comment: str | None

    @property
    def ref(self) -> str:
        return f"{self.ruleset_id}@{self.version}"


# A decision's input or result larger than this is stored compressed (a large request's input and
# answer are mostly repeated keys and citation texts: zlib makes them 10-30 times smaller).
COMPRESS_FROM_CHARS = 64 * 1024
_COMPRESSED = "zlib+base64:"  # JSON text never starts so


def packed_text(text: str | None) -> str | None:
    """JSON text as stored: as is, or compressed when large."""
    if text is None or len(text) < COMPRESS_FROM_CHARS:
        return text
    return _COMPRESSED + base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


@overload
def unpacked_text(text: str) -> str: ...


@overload
def unpacked_text(text: None) -> None: ...


def unpacked_text(text: str | None) -> str | None:
    if text is None or not text.startswith(_COMPRESSED):
        return text
    return zlib.decompress(base64.b64decode(text[len(_COMPRESSED) :])).decode("utf-8")


@dataclass(frozen=True)
class InstrumentRow:
    instrument_id: str
    revision: int
    legal_status: str
    text_available: bool
    source: str
    digest: str
    author: str
    created_at: dt.datetime
    comment: str | None

    def as_json(self, include_source: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.instrument_id,
            "revision": self.revision,
            "status": self.legal_status,
            "text_available": self.text_available,
            "digest": self.digest,
            "author": self.author,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "comment": self.comment,
        }
        if include_source:
            out["source"] = self.source
        return out


def _instrument_row(r: Any) -> InstrumentRow:
    return InstrumentRow(
        r.instrument_id,
        r.revision,
        r.legal_status,
        bool(r.text_available),
        r.source,
        r.digest,
        r.author,
        _utc(r.created_at),
        r.comment,
    )


def _decision(r: Any) -> dict[str, Any]:
    return {
        "decision_id": r.decision_id,
        "at": _iso(r.at),
        "caller": r.caller,
        "as_of": r.as_of,
        "rulesets": jsonio.loads(r.rulesets),
        "input": jsonio.loads(unpacked_text(r.input)) if r.input is not None else None,
        "input_digest": r.input_digest,
        "result": jsonio.loads(unpacked_text(r.result)),
        "violations": r.violations,
    }


class VersionConflict(ValueError):
    """The id@version exists with other content: versions are immutable."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def _utc(at: dt.datetime) -> dt.datetime: ...


@overload
def _utc(at: None) -> None: ...


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """A stored time with its time zone: SQLite gives back naive values of what was written in UTC."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=dt.UTC)
    return at


def _iso(at: dt.datetime | None) -> str | None:
    at = _utc(at)
    return at.isoformat() if at else None


def _row(r: Any) -> VersionRow:
    return VersionRow(
        r.ruleset_id,
        r.version,
        r.status,
        r.instrument,
        r.legal_status,
        r.effective_from,
        r.effective_to,
        r.source,
        r.digest,
        r.author,
        _utc(r.created_at),
        r.comment,
    )


class Store:
    """Ruleset versions, their status and the audit trail in one database."""

    def __init__(self, url: str):
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.url = url
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(conn, _record):  # concurrent readers while one process writes
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

        from policy.migrations import upgrade  # (env.py imports this module's metadata)

        upgrade(self.engine)  # the schema at the newest revision; see policy.migrations
        with self.engine.begin() as conn:
            if conn.execute(select(generation.c.value).where(generation.c.id == 1)).first() is None:
                try:
                    conn.execute(insert(generation).values(id=1, value=0))
                except IntegrityError:  # another process created it first
                    pass

    # ------------------------------------------------------------------ reading
    def generation(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(generation.c.value).where(generation.c.id == 1)).scalar_one())

    def all_versions(self) -> list[VersionRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(versions).order_by(versions.c.ruleset_id, versions.c.version)).all()
        return [_row(r) for r in rows]

    def get(self, ruleset_id: str, version: str) -> VersionRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                select(versions).where(versions.c.ruleset_id == ruleset_id, versions.c.version == version)
            ).first()
        return _row(r) if r else None

    def audit(self, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
            ).all()
        return [
            {
                "seq": r.seq,
                "at": _iso(r.at),
                "actor": r.actor,
                "action": r.action,
                "ruleset": f"{r.ruleset_id}@{r.version}",
                "digest_before": r.digest_before,
                "digest_after": r.digest_after,
                "detail": r.detail,
            }
            for r in rows
        ]

    def decision(self, decision_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(decisions).where(decisions.c.decision_id == decision_id)).first()
        return _decision(r) if r else None

    def recent_decisions(self, limit: int = 100, with_input_only: bool = True) -> list[dict[str, Any]]:
        q = select(decisions).order_by(decisions.c.at.desc()).limit(limit)
        if with_input_only:
            q = q.where(decisions.c.input.is_not(None))
        with self.engine.connect() as conn:
            return [_decision(r) for r in conn.execute(q).all()]

    def approvals(self, ruleset_id: str, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Sign-offs of a ruleset's rules (of every version), oldest first."""
        q = select(approvals).where(approvals.c.ruleset_id == ruleset_id).order_by(approvals.c.seq)
        if rule_id is not None:
            q = q.where(approvals.c.rule_id == rule_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "seq": r.seq,
                "ruleset": f"{r.ruleset_id}@{r.version}",
                "rule": r.rule_id,
                "rule_digest": r.rule_digest,
                "reviewer": r.reviewer,
                "at": _iso(r.at),
                "comment": r.comment,
            }
            for r in rows
        ]

    def ever_active(self, ruleset_id: str) -> set[str]:
        """Versions of the ruleset that were active at some time (from the audit trail's activations)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.version).where(
                    audit_log.c.ruleset_id == ruleset_id, audit_log.c.action == "activate"
                )
            ).all()
        return {r.version for r in rows}

    def overrides(self, ruleset_id: str, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Emergency activations of a ruleset's rules without sign-off, oldest first."""
        q = select(overrides).where(overrides.c.ruleset_id == ruleset_id).order_by(overrides.c.seq)
        if rule_id is not None:
            q = q.where(overrides.c.rule_id == rule_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "ruleset": f"{r.ruleset_id}@{r.version}",
                "rule": r.rule_id,
                "rule_digest": r.rule_digest,
                "actor": r.actor,
                "at": _iso(r.at),
                "reason": r.reason,
            }
            for r in rows
        ]

    def instrument_revisions(self, instrument_id: str | None = None) -> list[InstrumentRow]:
        """Published instrument revisions (of one id, or all), oldest first."""
        q = select(instrument_revisions).order_by(instrument_revisions.c.instrument_id, instrument_revisions.c.revision)
        if instrument_id is not None:
            q = q.where(instrument_revisions.c.instrument_id == instrument_id)
        with self.engine.connect() as conn:
            return [_instrument_row(r) for r in conn.execute(q).all()]

    def instrument_revision(self, instrument_id: str, revision: int) -> InstrumentRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                select(instrument_revisions).where(
                    instrument_revisions.c.instrument_id == instrument_id, instrument_revisions.c.revision == revision
                )
            ).first()
        return _instrument_row(r) if r else None

    def current_instruments(self) -> list[InstrumentRow]:
        """The newest revision of every published instrument (the ones served)."""
        newest: dict[str, InstrumentRow] = {}
        for row in self.instrument_revisions():
            newest[row.instrument_id] = row  # ordered by revision: the last one wins
        return list(newest.values())

    # ------------------------------------------------------------------ writing
    def add_instrument_revision(
        self,
        *,
        instrument_id: str,
        legal_status: str,
        text_available: bool,
        source: str,
        digest: str,
        author: str,
        comment: str | None = None,
    ) -> tuple[InstrumentRow, bool]:
        """Store an instrument's text as its next revision; (the revision, whether it is new).

        Publishing the text the newest revision already has is idempotent (nothing is written).
        """
        with self.engine.begin() as conn:
            newest = conn.execute(
                select(instrument_revisions)
                .where(instrument_revisions.c.instrument_id == instrument_id)
                .order_by(instrument_revisions.c.revision.desc())
                .limit(1)
            ).first()
            if newest is not None and newest.digest == digest:
                return _instrument_row(newest), False
            revision = newest.revision + 1 if newest is not None else 1
            values: dict[str, Any] = dict(
                instrument_id=instrument_id,
                revision=revision,
                legal_status=legal_status,
                text_available=int(text_available),
                source=source,
                digest=digest,
                author=author,
                created_at=_now(),
                comment=comment,
            )
            conn.execute(insert(instrument_revisions).values(**values))
            self._audit(
                conn,
                author,
                "publish-instrument",
                instrument_id,
                str(revision),
                newest.digest if newest is not None else None,
                digest,
                comment or (f"correction of revision {newest.revision}" if newest is not None else None),
            )
            self._bump(conn)
        return InstrumentRow(
            instrument_id, revision, legal_status, text_available, source, digest, author, values["created_at"], comment
        ), True

    def record_approval(
        self,
        *,
        ruleset_id: str,
        version: str,
        rule_id: str,
        rule_digest: str,
        reviewer: str,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Append a sign-off (and its audit entry, in the same transaction)."""
        at = _now()
        with self.engine.begin() as conn:
            key = conn.execute(
                insert(approvals).values(
                    ruleset_id=ruleset_id,
                    version=version,
                    rule_id=rule_id,
                    rule_digest=rule_digest,
                    reviewer=reviewer,
                    at=at,
                    comment=comment,
                )
            ).inserted_primary_key
            # a single-row INSERT's result always has the new row's primary key (None only for other statements)
            seq = cast(Any, key)[0]
            self._audit(
                conn,
                reviewer,
                "approve",
                ruleset_id,
                version,
                None,
                rule_digest,
                f"{rule_id}" + (f": {comment}" if comment else ""),
            )
        return {
            "seq": seq,
            "ruleset": f"{ruleset_id}@{version}",
            "rule": rule_id,
            "rule_digest": rule_digest,
            "reviewer": reviewer,
            "at": at.isoformat(),
            "comment": comment,
        }

    def record_decisions(self, items: list[dict[str, Any]]) -> None:
        """Append decisions (one transaction); each: decision_id, at, caller, as_of, rulesets, input,
        input_digest, result, violations (rulesets/input/result as JSON text; large ones are stored
        compressed, see :func:`packed_text`)."""
        # SQLite keeps a time's wall clock and drops its zone: store UTC, which reading labels as UTC
        items = [
            {**item, "at": item["at"].astimezone(dt.UTC)}
            if isinstance(item.get("at"), dt.datetime) and item["at"].tzinfo is not None
            else item
            for item in items
        ]
        rows = [{**r, "input": packed_text(r["input"]), "result": packed_text(r["result"])} for r in items]
        with self.engine.begin() as conn:
            conn.execute(insert(decisions), rows)

    def purge_decisions(self, before: dt.datetime) -> int:
        from sqlalchemy import delete

        with self.engine.begin() as conn:
            return conn.execute(delete(decisions).where(decisions.c.at < before)).rowcount or 0

    def _bump(self, conn) -> None:
        conn.execute(update(generation).where(generation.c.id == 1).values(value=generation.c.value + 1))

    def _audit(
        self,
        conn,
        actor: str,
        action: str,
        rid: str,
        version: str,
        before: str | None,
        after: str | None,
        detail: str | None = None,
    ) -> None:
        conn.execute(
            insert(audit_log).values(
                at=_now(),
                actor=actor,
                action=action,
                ruleset_id=rid,
                version=version,
                digest_before=before,
                digest_after=after,
                detail=detail,
            )
        )

    def add_version(
        self,
        *,
        ruleset_id: str,
        version: str,
        status: str,
        instrument: str,
        legal_status: str,
        effective_from: str | None,
        effective_to: str | None,
        source: str,
        digest: str,
        author: str,
        comment: str | None = None,
    ) -> bool:
        """Store a new immutable version; False if the same content is already there (idempotent)."""
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(versions.c.digest).where(versions.c.ruleset_id == ruleset_id, versions.c.version == version)
            ).first()
            if existing is not None:
                if existing.digest == digest:
                    return False
                raise VersionConflict(
                    f"{ruleset_id}@{version} already exists with digest {existing.digest}; "
                    f"versions are immutable: publish the change under a new version"
                )
            conn.execute(
                insert(versions).values(
                    ruleset_id=ruleset_id,
                    version=version,
                    status="retired" if status == "retired" else "draft",
                    instrument=instrument,
                    legal_status=legal_status,
                    effective_from=effective_from,
                    effective_to=effective_to,
                    source=source,
                    digest=digest,
                    author=author,
                    created_at=_now(),
                    comment=comment,
                )
            )
            self._audit(conn, author, "publish", ruleset_id, version, None, digest, comment)
            if status == "active":
                self._activate(conn, ruleset_id, version, author, "activated on publication")
            self._bump(conn)
        return True

    def activate(
        self,
        ruleset_id: str,
        version: str,
        actor: str,
        comment: str | None = None,
        override: tuple[str, list[tuple[str, str]]] | None = None,
    ) -> list[str]:
        """Make a version active; active versions of the same ruleset whose periods overlap it are retired.

        ``override``: (the written reason, [(rule id, rule digest), ...]) when a regulator activates before
        those rules were signed off; recorded, and audited, in the same transaction.
        """
        with self.engine.begin() as conn:
            if override is not None:
                reason, unsigned = override
                at = _now()
                conn.execute(
                    insert(overrides),
                    [
                        {
                            "ruleset_id": ruleset_id,
                            "version": version,
                            "rule_id": rule_id,
                            "rule_digest": digest,
                            "actor": actor,
                            "at": at,
                            "reason": reason,
                        }
                        for rule_id, digest in unsigned
                    ],
                )
                self._audit(
                    conn,
                    actor,
                    "override-sign-off",
                    ruleset_id,
                    version,
                    None,
                    None,
                    f"{reason} (unsigned: {', '.join(rule_id for rule_id, _ in unsigned)})",
                )
            retired = self._activate(conn, ruleset_id, version, actor, comment)
            self._bump(conn)
        return retired

    def _activate(self, conn, ruleset_id: str, version: str, actor: str, comment: str | None) -> list[str]:
        target = conn.execute(
            select(versions).where(versions.c.ruleset_id == ruleset_id, versions.c.version == version)
        ).first()
        if target is None:
            raise KeyError(f"{ruleset_id}@{version}")
        retired, replaced = [], []
        others = conn.execute(
            select(versions).where(
                versions.c.ruleset_id == ruleset_id, versions.c.status == "active", versions.c.version != version
            )
        ).all()
        for other in others:
            if periods_overlap(other.effective_from, other.effective_to, target.effective_from, target.effective_to):
                conn.execute(update(versions).where(versions.c.pk == other.pk).values(status="retired"))
                self._audit(
                    conn,
                    actor,
                    "retire",
                    ruleset_id,
                    other.version,
                    other.digest,
                    other.digest,
                    f"replaced by {ruleset_id}@{version}",
                )
                retired.append(f"{ruleset_id}@{other.version}")
                replaced.append(other)
        conn.execute(update(versions).where(versions.c.pk == target.pk).values(status="active"))
        # digest_before is what served this period until now: the version replaced, not just any
        # active version of the ruleset (one for another year is untouched and unrelated).
        self._audit(
            conn,
            actor,
            "activate",
            ruleset_id,
            version,
            replaced[0].digest if replaced else None,
            target.digest,
            (comment or "") + (f" (retired {', '.join(retired)})" if retired else ""),
        )
        return retired


# ---------------------------------------------------------------------- impact preview jobs
# (a database made before this table existed gets it from the baseline migration, policy/migrations)
# An impact preview runs in the background of the process that accepted it; its progress and result are
# rows here, so that any worker of any instance answers ``GET /v1/rulesets/impact/<job>``.
impact_jobs = Table(
    "impact_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("candidate", String(260), nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, done, failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("result", Text),  # JSON report when done
    Column("error", Text),
)


def create_impact_job(store: Store, job_id: str, actor: str, candidate: str, total: int) -> None:
    """Record a queued impact preview over ``total`` decisions (created once, on its metadata)."""
    now = _now()
    with store.engine.begin() as conn:
        conn.execute(
            insert(impact_jobs).values(
                job_id=job_id,
                created_at=now,
                updated_at=now,
                actor=actor,
                candidate=candidate,
                status="queued",
                total=total,
                done=0,
            )
        )


def update_impact_job(store: Store, job_id: str, **values: Any) -> None:
    """Set a job's progress (``done``), ``status``, ``result`` (JSON text) or ``error``; stamps ``updated_at``."""
    with store.engine.begin() as conn:
        conn.execute(update(impact_jobs).where(impact_jobs.c.job_id == job_id).values(updated_at=_now(), **values))


def impact_job(store: Store, job_id: str) -> dict[str, Any] | None:
    """A job's row (``result`` still JSON text), or None."""
    with store.engine.connect() as conn:
        r = conn.execute(select(impact_jobs).where(impact_jobs.c.job_id == job_id)).first()
    return dict(r._mapping) if r else None


def decision_inputs(store: Store, limit: int | None, page: int = 500) -> Iterable[list[tuple[str, str, str, str]]]:
    """The newest ``limit`` decisions with a kept input (all when None), newest first, in pages.

    Each row is (decision_id, at as ISO text, as_of, input as JSON text): the text is parsed where it is
    evaluated, so pages cross process boundaries cheaply.  Keyset pagination: memory stays one page.
    """
    cols = (decisions.c.decision_id, decisions.c.at, decisions.c.as_of, decisions.c.input)
    after: tuple[Any, str] | None = None
    left = limit
    while left is None or left > 0:
        n = page if left is None else min(page, left)
        q = select(*cols).where(decisions.c.input.is_not(None))
        if after is not None:
            q = q.where(
                (decisions.c.at < after[0]) | ((decisions.c.at == after[0]) & (decisions.c.decision_id < after[1]))
            )
        q = q.order_by(decisions.c.at.desc(), decisions.c.decision_id.desc()).limit(n)
        with store.engine.connect() as conn:
            rows = conn.execute(q).all()
        if not rows:
            return
        yield [(r.decision_id, _utc_text(r.at), r.as_of, r.input) for r in rows]
        after = (rows[-1].at, rows[-1].decision_id)
        if left is not None:
            left -= len(rows)
        if len(rows) < n:
            return


def _utc_text(at: dt.datetime | None) -> str:
    """ISO text with its zone (SQLite returns the UTC times the store wrote without one)."""
    if at is None:
        return ""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat()


def count_decision_inputs(store: Store, limit: int | None) -> int:
    """How many decisions :func:`decision_inputs` yields for ``limit``."""
    from sqlalchemy import func

    with store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(decisions).where(decisions.c.input.is_not(None))).scalar_one()
    return n if limit is None else min(n, limit)
