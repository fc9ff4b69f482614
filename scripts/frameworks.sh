#!/usr/bin/env bash
# The framework tests (README "From your migration tool"): the example migrations of
# examples/migrations run by the tools themselves (Django's manage.py migrate, alembic, and
# plain SQL files one transaction each, as Flyway and sqitch run them), forward, backward and
# forward again, each in a fresh database; and the README showing each example as it is.
# Installs Django, psycopg, SQLAlchemy and Alembic, pinned in examples/migrations/requirements.txt,
# into a virtualenv under target/ (again only when that file changed). Needs a running cluster
# (PGHOST, PGPORT, PGUSER, as scripts/cluster.sh exports) whose PostgreSQL has pg_erasure installed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/frameworks-venv
requirements=examples/migrations/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

python3 tests/frameworks/readme_examples.py
for tool in django alembic sql; do
  db=pg_erasure_$tool
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql -X -q -d "$db" -c 'CREATE EXTENSION pg_erasure'
  PGDATABASE=$db "$venv/bin/python" "tests/frameworks/${tool}_cycle.py"
  psql -X -q -d postgres -c "DROP DATABASE $db"
done
