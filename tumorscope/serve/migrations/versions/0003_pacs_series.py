"""The PACS watcher's persisted queue: one row per series and model version.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pacs_series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False, index=True),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_at", _TZ, nullable=False),
        sa.Column("owner", sa.String(96)),
        sa.Column("lease_until", _TZ),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.JSON),
        sa.UniqueConstraint("series_uid", "model_version", name="uq_pacs_series_model"),
    )


def downgrade() -> None:
    op.drop_table("pacs_series")
