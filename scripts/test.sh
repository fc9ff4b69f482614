#!/usr/bin/env bash
# Runs every test of pg_erasure on this machine, installing what they need first:
#   1. #[pg_test] unit tests beside the code (cargo pgrx test, on pgrx's own test cluster);
#   2. pg_regress suites in tests/ (SQL behaviour, errors and their SQLSTATEs);
#   3. pgrx-tests/: Rust tests that need several sessions, through the postgres client crate
#      (concurrency soak, crashes, random schemas, backups, replication);
#   4. the benchmark harness at smoke size (bench/run.sh): that it runs and that pg_erasure and
#      the hand-written baselines leave identical data; it judges no timing.
# Suites 2 to 4 run against throwaway clusters (scripts/cluster.sh), stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGRX_TEST_DATA=/tmp/pg_erasure-pgrx-data   # short, outside /root: pgrx puts the socket there

bash scripts/setup.sh

echo "== 1/4 unit tests (#[pg_test])"
rm -rf "$PGRX_TEST_DATA"
mkdir -p "$PGRX_TEST_DATA" && chown postgres: "$PGRX_TEST_DATA"
cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DATA"
rm -rf "$PGRX_TEST_DATA"

# The unit tests installed a build with test-only functions; install the real one.
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

source scripts/cluster.sh
cluster_start -c shared_preload_libraries=pg_stat_statements,pg_cron -c pg_stat_statements.track=all \
  -c cron.use_background_workers=on -c cron.database_name=postgres

echo "== 2/4 regression suites (pg_regress)"
RESULTS=$(mktemp -d /tmp/pg_erasure-regress.XXXXXX)
tests=$(cd tests/sql && ls *.sql | sed 's/\.sql$//')
if ! /usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
    --bindir=/usr/lib/postgresql/15/bin --inputdir=tests --outputdir="$RESULTS" \
    --dbname=pg_erasure_regress $tests; then
  cat "$RESULTS/regression.diffs" 2>/dev/null || true
  exit 1
fi
rm -rf "$RESULTS"

echo "== 3/4 multi-session tests (pgrx-tests/)"
cargo test -p pg_erasure_session_tests -- --test-threads=1

echo "== 4/4 benchmark harness, smoke size (bench/run.sh)"
BENCH_LOG=$(mktemp /tmp/pg_erasure-bench.XXXXXX)
if ! SMOKE=1 RESULTS="$BENCH_LOG.md" BENCH_COMMAND='bash scripts/test.sh (smoke)' bash bench/run.sh >"$BENCH_LOG" 2>&1; then
  tail -40 "$BENCH_LOG"
  exit 1
fi
grep '^bench: ' "$BENCH_LOG" | tail -3
rm -f "$BENCH_LOG" "$BENCH_LOG.md"
