"""A dropped column: the DDL watch drops its policy; the downgrade sets it again."""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.drop_column("shop_customer", "birth_date")


def downgrade():
    op.add_column("shop_customer", sa.Column("birth_date", sa.Date))
    op.execute("SELECT erasure.set_policy('shop_customer', 'birth_date', 'year_only')")
