"""The shop's tables and their erasure policy."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "shop_customer",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("birth_date", sa.Date),
        sa.Column("state", sa.String(2), nullable=False),
    )
    op.create_table(
        "shop_order",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.BigInteger, sa.ForeignKey("shop_customer.id"), nullable=False, index=True),
        sa.Column("shipping_name", sa.String(200), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "shop_invoice",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.BigInteger, sa.ForeignKey("shop_customer.id"), nullable=False, index=True),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute("""
        SELECT erasure.register_subject('customer', 'shop_customer');
        SELECT erasure.register_table('customer', 'shop_order', via => '{customer_id}');
        SELECT erasure.register_table('customer', 'shop_invoice', 'retain', via => '{customer_id}',
                                      reason => 'bookkeeping law: invoices are kept unchanged');
        SELECT erasure.set_policy('shop_customer', 'name', 'constant', '{"value": "Xxxx"}');
        SELECT erasure.set_policy('shop_customer', 'email', 'placeholder',
                                  '{"template": "erased-{key}@invalid.example"}');
        SELECT erasure.set_policy('shop_customer', 'birth_date', 'year_only');
        SELECT erasure.set_policy('shop_customer', 'state', 'keep');
        SELECT erasure.set_policy('shop_order', 'id', 'keep');
        SELECT erasure.set_policy('shop_order', 'shipping_name', 'constant', '{"value": "Unknown customer"}');
        SELECT erasure.set_policy('shop_order', 'placed_at', 'keep');
        SELECT erasure.register_blocker('customer', 'unpaid_invoice',
          $$SELECT number FROM public.shop_invoice WHERE customer_id = $1 AND NOT paid$$,
          'an invoice is not paid');
    """)


def downgrade():
    op.execute("""
        SELECT erasure.drop_blocker('customer', 'unpaid_invoice');
        SELECT erasure.drop_table('customer', 'shop_invoice', cascade => true);
        SELECT erasure.drop_table('customer', 'shop_order', cascade => true);
        SELECT erasure.drop_subject('customer', cascade => true);
    """)
    op.drop_table("shop_invoice")
    op.drop_table("shop_order")
    op.drop_table("shop_customer")
