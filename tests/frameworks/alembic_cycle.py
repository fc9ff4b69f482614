"""The Alembic example (examples/migrations/alembic) for real: its revisions upgraded one at a
time, an erasure through SQLAlchemy, downgraded one at a time (each leaving the erasure catalog
as its upgrade found it), upgraded again. Run by scripts/frameworks.sh in the virtualenv it
made, against the database in PGDATABASE, which has pg_erasure installed and nothing else."""
import os
import subprocess
import sys

import sqlalchemy as sa

import cycle  # tests/frameworks/cycle.py, beside this file

HERE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "migrations", "alembic")
REVISIONS = ["0001", "0002", "0003", "0004"]
engine = sa.create_engine("postgresql+psycopg://")


def alembic(command, revision):
    """alembic upgrade/downgrade, as a deployment runs it."""
    alembic_bin = os.path.join(os.path.dirname(sys.executable), "alembic")
    subprocess.run([alembic_bin, "-c", "alembic.ini", command, revision], cwd=HERE, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def query(sql, **params):
    with engine.begin() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]


def catalog():
    return query(cycle.CATALOG)


def equal(actual, expected, what):
    cycle.equal("alembic", actual, expected, what)


def errors():
    return query("SELECT tbl::text, col, problem FROM erasure.check() WHERE severity = 'error'")


before = catalog()
upgraded = cycle.forward(lambda revision: alembic("upgrade", revision), catalog, REVISIONS)
equal(errors(), [], "check() after upgrade head")
equal(query("SELECT col, strategy FROM erasure.column_policies WHERE tbl = 'shop_customer'::regclass ORDER BY col"),
      [("email", "placeholder"), ("mobile", "null"), ("name", "constant"), ("state", "keep")],
      "shop_customer's policies after the rename and the drop")

with engine.begin() as connection:
    key = connection.execute(sa.text(
        "INSERT INTO shop_customer (name, email, state, mobile) VALUES ('Ana Example', 'ana@example.com', 'SP', '555')"
        " RETURNING id")).scalar_one()
    connection.execute(sa.text("INSERT INTO shop_order (customer_id, shipping_name, placed_at) VALUES (:k, 'Ana', now())"),
                       {"k": key})
    connection.execute(sa.text("INSERT INTO shop_invoice (customer_id, number, total, paid) VALUES (:k, 'F-1', 10, true)"),
                       {"k": key})
with engine.begin() as connection:
    status = connection.execute(sa.text("SELECT erasure.anonymize_customer(:k) ->> 'status'"), {"k": key}).scalar_one()
equal(status, "anonymized", "the erasure's status")
equal(query("SELECT c.name, c.email, c.mobile, o.shipping_name, i.number FROM shop_customer c"
            " JOIN shop_order o ON o.customer_id = c.id JOIN shop_invoice i ON i.customer_id = c.id"),
      [("Xxxx", f"erased-{key}@invalid.example", None, "Unknown customer", "F-1")], "the erased customer")

cycle.backward("alembic", lambda revision: alembic("downgrade", revision), catalog, REVISIONS, upgraded, "base")
equal(catalog(), before, "the catalog after downgrade base")
alembic("upgrade", "head")
equal(catalog(), upgraded[-1], "the catalog after upgrading again")
equal(errors(), [], "check() after upgrading again")
print(f"alembic: upgrade, an erasure, downgrade base (catalog as before), upgrade again: "
      f"{len(upgraded[-1])} catalog rows, check() clean")
