"""key-value entries may expire (kv.Set ttl, kv.PurgeKV)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kv_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiration", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kv_entries", schema=None) as batch_op:
        batch_op.drop_column("expiration")
