# libpq finds the database from PGHOST, PGPORT, PGUSER and PGDATABASE.
from alembic import context
from sqlalchemy import create_engine

engine = create_engine("postgresql+psycopg://")
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
