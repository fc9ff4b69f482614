"""A rename: the DDL watch renames the column's policy with it, both ways."""
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.alter_column("shop_customer", "phone", new_column_name="mobile")


def downgrade():
    op.alter_column("shop_customer", "mobile", new_column_name="phone")
