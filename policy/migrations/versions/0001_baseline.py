"""Baseline: the schema of the last release without migrations (its ``create_all``).

Each table (and index) is created only where it is missing, so this revision also adopts a database that
release made, and one made by an older release that lacked some tables (e.g. ``impact_jobs``).
The definitions are frozen here: later changes are later revisions, never edits of this one.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list, list[tuple[str, list[str]]]]]:
    """(table, columns and constraints, [(index name, columns)]) as the baseline release made them."""
    return [
        (
            "ruleset_versions",
            [
                sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("ruleset_id", sa.String(128), nullable=False),
                sa.Column("version", sa.String(128), nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("instrument", sa.String(128), nullable=False),
                sa.Column("legal_status", sa.String(16), nullable=False),
                sa.Column("effective_from", sa.String(10)),
                sa.Column("effective_to", sa.String(10)),
                sa.Column("source", sa.Text, nullable=False),
                sa.Column("digest", sa.String(80), nullable=False),
                sa.Column("author", sa.String(128), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("comment", sa.Text),
                sa.UniqueConstraint("ruleset_id", "version", name="uq_ruleset_version"),
            ],
            [],
        ),
        (
            "audit_log",
            [
                sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("at", TZ, nullable=False),
                sa.Column("actor", sa.String(128), nullable=False),
                sa.Column("action", sa.String(32), nullable=False),
                sa.Column("ruleset_id", sa.String(128), nullable=False),
                sa.Column("version", sa.String(128), nullable=False),
                sa.Column("digest_before", sa.String(80)),
                sa.Column("digest_after", sa.String(80)),
                sa.Column("detail", sa.Text),
            ],
            [],
        ),
        (
            "decisions",
            [
                sa.Column("decision_id", sa.String(64), primary_key=True),
                sa.Column("at", TZ, nullable=False),
                sa.Column("caller", sa.String(128)),
                sa.Column("as_of", sa.String(10), nullable=False),
                sa.Column("rulesets", sa.Text, nullable=False),
                sa.Column("input", sa.Text),
                sa.Column("input_digest", sa.String(80), nullable=False),
                sa.Column("result", sa.Text, nullable=False),
                sa.Column("violations", sa.Integer, nullable=False),
            ],
            [("ix_decisions_at", ["at"])],
        ),
        (
            "rule_approvals",
            [
                sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("ruleset_id", sa.String(128), nullable=False),
                sa.Column("version", sa.String(128), nullable=False),
                sa.Column("rule_id", sa.String(128), nullable=False),
                sa.Column("rule_digest", sa.String(80), nullable=False),
                sa.Column("reviewer", sa.String(128), nullable=False),
                sa.Column("at", TZ, nullable=False),
                sa.Column("comment", sa.Text),
            ],
            [("ix_rule_approvals_rule", ["ruleset_id", "rule_id"])],
        ),
        (
            "activation_overrides",
            [
                sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("ruleset_id", sa.String(128), nullable=False),
                sa.Column("version", sa.String(128), nullable=False),
                sa.Column("rule_id", sa.String(128), nullable=False),
                sa.Column("rule_digest", sa.String(80), nullable=False),
                sa.Column("actor", sa.String(128), nullable=False),
                sa.Column("at", TZ, nullable=False),
                sa.Column("reason", sa.Text, nullable=False),
            ],
            [("ix_activation_overrides_rule", ["ruleset_id", "rule_id"])],
        ),
        (
            "instrument_revisions",
            [
                sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("instrument_id", sa.String(128), nullable=False),
                sa.Column("revision", sa.Integer, nullable=False),
                sa.Column("legal_status", sa.String(16), nullable=False),
                sa.Column("text_available", sa.Integer, nullable=False),
                sa.Column("source", sa.Text, nullable=False),
                sa.Column("digest", sa.String(80), nullable=False),
                sa.Column("author", sa.String(128), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("comment", sa.Text),
                sa.UniqueConstraint("instrument_id", "revision", name="uq_instrument_revision"),
            ],
            [],
        ),
        (
            "registry_generation",
            [sa.Column("id", sa.Integer, primary_key=True), sa.Column("value", sa.BigInteger, nullable=False)],
            [],
        ),
        (
            "impact_jobs",
            [
                sa.Column("job_id", sa.String(64), primary_key=True),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("updated_at", TZ, nullable=False),
                sa.Column("actor", sa.String(128), nullable=False),
                sa.Column("candidate", sa.String(260), nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("total", sa.Integer, nullable=False),
                sa.Column("done", sa.Integer, nullable=False),
                sa.Column("result", sa.Text),
                sa.Column("error", sa.Text),
            ],
            [],
        ),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, columns, indexes in _tables():
        if not inspector.has_table(name):
            op.create_table(name, *columns)
            present = set()
        else:
            present = {ix["name"] for ix in inspector.get_indexes(name)}
        for index, cols in indexes:
            if index not in present:
                op.create_index(index, name, cols)


def downgrade() -> None:
    for name, _, _ in reversed(_tables()):
        op.drop_table(name)
