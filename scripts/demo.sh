#!/usr/bin/env bash
# The demo: installs what pg_erasure needs (scripts/setup.sh), builds and installs the
# extension, starts a throwaway PostgreSQL cluster (scripts/cluster.sh: stopped and removed on
# exit), loads the shop of examples/shop.sql, registers its erasure policy twice
# (examples/policies.sql: registration is idempotent) and runs examples/demo.sql.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: building and installing pg_erasure"
cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config >/dev/null

source scripts/cluster.sh
cluster_start
createdb shop
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d shop "$@"; }
psql -c "CREATE EXTENSION pg_erasure"
psql -f examples/shop.sql
psql -f examples/policies.sql >/dev/null
psql -f examples/policies.sql >/dev/null
psql -f examples/demo.sql
