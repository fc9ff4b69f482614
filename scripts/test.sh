#!/usr/bin/env bash
# Runs every test of pg_erasure on this machine, installing what they need first:
#   1. #[pg_test] unit tests beside the code (cargo pgrx test, on pgrx's own test cluster);
#   2. pg_regress suites in tests/ (SQL behaviour, errors and their SQLSTATEs);
#   3. pgrx-tests/: Rust tests that need several sessions, through the postgres client crate
#      (concurrency soak, crashes, random schemas, backups, replication);
#   4. the framework tests (scripts/frameworks.sh): the example migrations of examples/migrations
#      run by Django, Alembic and as plain SQL files, forward, backward and forward again, and
#      the README showing each as it is; Django, SQLAlchemy, Alembic and psycopg come pinned
#      from PyPI into a virtualenv under target/;
#   5. the benchmark harness at smoke size (bench/run.sh): that it runs and that pg_erasure and
#      the hand-written baselines leave identical data; it judges no timing;
#   6. the upgrade from 0.1.0 (scripts/upgrade.sh): 0.1.0 as released, built from git history
#      (cached under target/upgrade/), a shop erasing with its API, this build installed over it
#      and ALTER EXTENSION pg_erasure UPDATE; the schema must equal a fresh install's, every
#      catalog row, ledger row and request must be kept, and erasures must go on;
#   7. the other majors (scripts/majors.sh: 16 and 18): the #[pg_test] unit tests and the
#      pg_regress suites, with the same expected files (REGRESS_NEEDS lists the suites that need
#      a contrib module a major's build lacks);
#   8. the Debian package of PostgreSQL 15 (scripts/package.sh), installed with dpkg -i into
#      the system's PostgreSQL after the build tree's install is removed: it holds the upgrade
#      scripts; CREATE EXTENSION, an erasure and DROP EXTENSION (tests/package.sql); removed again
#      at the end.
# Tiers 1 to 6 run on PostgreSQL 15. Suites 2 to 7 run against throwaway clusters
# (scripts/cluster.sh), stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PGRX_TEST_DATA=/tmp/pg_erasure-pgrx-data   # short, outside /root: pgrx puts the socket there

bash scripts/setup.sh
source scripts/majors.sh

# The #[pg_test] unit tests on a major, on pgrx's own test cluster; then the real build (the
# unit tests install one with test-only functions).
unit_tests() {
  rm -rf "$PGRX_TEST_DATA"
  mkdir -p "$PGRX_TEST_DATA" && chown postgres: "$PGRX_TEST_DATA"
  cargo pgrx test "pg$1" --runas postgres --pgdata "$PGRX_TEST_DATA"
  rm -rf "$PGRX_TEST_DATA"
  cargo pgrx install --pg-config "$(pg_config_of "$1")" >/dev/null
}

# The pg_regress suites (all, or those named) on the running cluster of major $1.
regress() {
  local major=$1 results
  shift
  results=$(mktemp -d /tmp/pg_erasure-regress.XXXXXX)
  chmod 777 "$results"
  if ! "$(pg_regress_of "$major")" --bindir="$("$(pg_config_of "$major")" --bindir)" --inputdir=tests \
      --outputdir="$results" --dbname=pg_erasure_regress "$@"; then
    cat "$results/regression.diffs" 2>/dev/null || true
    exit 1
  fi
  rm -rf "$results"
}
all_suites=$(cd tests/sql && ls *.sql | sed 's/\.sql$//')

echo "== 1/8 unit tests (#[pg_test])"
unit_tests 15

source scripts/cluster.sh
cluster_start -c shared_preload_libraries=pg_stat_statements,pg_cron -c pg_stat_statements.track=all \
  -c cron.use_background_workers=on -c cron.database_name=postgres

echo "== 2/8 regression suites (pg_regress)"
regress 15 $all_suites

echo "== 3/8 multi-session tests (pgrx-tests/)"
cargo test -p pg_erasure_session_tests -- --test-threads=1

echo "== 4/8 framework tests (scripts/frameworks.sh)"
bash scripts/frameworks.sh

echo "== 5/8 benchmark harness, smoke size (bench/run.sh)"
BENCH_LOG=$(mktemp /tmp/pg_erasure-bench.XXXXXX)
if ! SMOKE=1 RESULTS="$BENCH_LOG.md" BENCH_COMMAND='bash scripts/test.sh (smoke)' bash bench/run.sh >"$BENCH_LOG" 2>&1; then
  tail -40 "$BENCH_LOG"
  exit 1
fi
grep '^bench: ' "$BENCH_LOG" | tail -3
rm -f "$BENCH_LOG" "$BENCH_LOG.md"
cluster_stop

# After the cluster above is stopped: the upgrade test installs 0.1.0's library for a while.
echo "== 6/8 upgrade from 0.1.0 (scripts/upgrade.sh)"
bash scripts/upgrade.sh 15

# Each other major: what its build ships decides which suites need a module it lacks
# (21_bulk and 32_shard_shapes read statements from pg_stat_statements, which PostgreSQL 16's wheel lacks).
declare -A REGRESS_NEEDS=([21_bulk]=pg_stat_statements [32_shard_shapes]=pg_stat_statements)
for major in $MAJORS; do
  [ "$major" = 15 ] && continue
  echo "== 7/8 PostgreSQL $major: unit tests and regression suites"
  unit_tests "$major"
  suites=() preload=()
  lib=$("$(pg_config_of "$major")" --pkglibdir)
  for suite in $all_suites; do
    module=${REGRESS_NEEDS[$suite]:-}
    if [ -n "$module" ] && [ ! -e "$lib/$module.so" ]; then
      echo "PostgreSQL $major: $suite skipped, this build has no $module"
      continue
    fi
    suites+=("$suite")
  done
  [ -e "$lib/pg_stat_statements.so" ] && preload=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all)
  PG_MAJOR=$major source scripts/cluster.sh
  cluster_start "${preload[@]}"
  regress "$major" "${suites[@]}"
  cluster_stop
done

echo "== 8/8 the Debian package for PostgreSQL 15"
deb=$(bash scripts/package.sh 15)
# The upgrade scripts ship with it; 0.1.0's install script does not.
contents=$(dpkg-deb -c "$deb")
for script in sql/pg_erasure--*--*.sql; do
  grep -q "/extension/${script#sql/}\$" <<<"$contents" || { echo "package: $deb lacks ${script#sql/}"; exit 1; }
done
if grep -q '/extension/pg_erasure--0\.1\.0\.sql$' <<<"$contents"; then
  echo "package: $deb holds 0.1.0's install script"; exit 1
fi
# As on a machine that never had the build tree's install.
lib=$("$(pg_config_of 15)" --pkglibdir)
share=$("$(pg_config_of 15)" --sharedir)
rm -f "$lib/pg_erasure.so" "$share"/extension/pg_erasure*
dpkg -i "$deb" >/dev/null
PG_MAJOR=15 source scripts/cluster.sh
cluster_start
out=$(psql -X -q -At -f tests/package.sql 2>&1) || { echo "$out"; exit 1; }
cluster_stop
dpkg -r postgresql-15-pg-erasure >/dev/null
lines() { printf '%s\n' "$out" | grep -cx "$1" || true; }
if [ "$(lines anonymized)" != 1 ] || [ "$(lines t)" != 1 ] || [ "$(lines 't|t')" != 1 ]; then
  echo "the packaged pg_erasure did not erase, or DROP EXTENSION did not leave the data and roles:"
  echo "$out"
  exit 1
fi
echo "package: $deb installed, erased a customer, dropped"
