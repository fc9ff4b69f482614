"""A column and its policy, in one revision."""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("shop_customer", sa.Column("phone", sa.String(30)))
    op.execute("SELECT erasure.set_policy('shop_customer', 'phone', 'null')")


def downgrade():
    op.execute("SELECT erasure.drop_policy('shop_customer', 'phone')")
    op.drop_column("shop_customer", "phone")
