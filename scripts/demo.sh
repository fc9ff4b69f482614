#!/usr/bin/env bash
# The demo: installs what pg_erasure needs (scripts/setup.sh), builds and installs the
# extension, starts a throwaway PostgreSQL cluster (scripts/cluster.sh: stopped and removed on
# exit), loads the shop of examples/shop.sql, registers its erasure policy twice
# (examples/policies.sql: registration is idempotent) and runs examples/demo.sql.
# Options: --pg MAJOR (15 by default; scripts/majors.sh lists the majors).
set -euo pipefail
cd "$(dirname "$0")/.."

export PG_MAJOR=15
while [ $# -gt 0 ]; do
  case "$1" in
    --pg) PG_MAJOR=${2:?--pg needs a major, e.g. --pg 18}; shift 2 ;;
    *) echo "usage: bash scripts/demo.sh [--pg MAJOR]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
source scripts/majors.sh
echo "demo: building and installing pg_erasure for PostgreSQL $PG_MAJOR"
cargo pgrx install --release --pg-config "$(pg_config_of "$PG_MAJOR")" >/dev/null

source scripts/cluster.sh
cluster_start
createdb shop
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d shop "$@"; }
psql -c "CREATE EXTENSION pg_erasure"
psql -f examples/shop.sql
psql -f examples/policies.sql >/dev/null
psql -f examples/policies.sql >/dev/null
psql -f examples/demo.sql
