"""Reviews record how much a correction changed the AI mask: ``edit_dice`` and ``changed_voxels``.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("reviews", sa.Column("edit_dice", sa.Float))
    op.add_column("reviews", sa.Column("changed_voxels", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("changed_voxels")
        batch.drop_column("edit_dice")
