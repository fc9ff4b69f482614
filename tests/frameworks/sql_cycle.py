"""The plain SQL example (examples/migrations/sql, Flyway's names; sqitch's deploy and revert
and Liquibase's sqlFile and rollback are the same files): each file run in one transaction,
as those tools do, forward, undone and forward again, against the database in PGDATABASE."""
import os

import psycopg

import cycle  # tests/frameworks/cycle.py, beside this file

HERE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "migrations", "sql")
connection = psycopg.connect()


def run(name):
    with open(os.path.join(HERE, name)) as script, connection.transaction():
        connection.execute(script.read())


def catalog():
    with connection.transaction():
        return connection.execute(cycle.CATALOG).fetchall()


def errors():
    with connection.transaction():
        return connection.execute("SELECT tbl::text, col, problem FROM erasure.check() WHERE severity = 'error'").fetchall()


connection.autocommit = True
before = catalog()
run("V1__shop.sql")
after = catalog()
cycle.equal("sql", errors(), [], "check() after V1")
run("U1__shop.sql")
cycle.equal("sql", catalog(), before, "the catalog after U1")
run("V1__shop.sql")
cycle.equal("sql", catalog(), after, "the catalog after V1 again")
print(f"sql: V1, U1 (catalog as before), V1 again: {len(after)} catalog rows, check() clean")
