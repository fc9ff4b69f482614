# Benchmarks of pg_erasure against hand-written baselines (bench/run.sh documents them and their
# parameters). Both targets first install what the extension needs and build and install it;
# SKIP_INSTALL=1 skips that, for an extension already installed.
#
#   make bench          full run: BENCHMARKS.md
#   make bench-smoke    tiny run: bench/results.md; fails only if the harness fails, judges no timing

PG_CONFIG := /usr/lib/postgresql/15/bin/pg_config

.PHONY: bench bench-smoke bench-install package

bench: bench-install
	BENCH_COMMAND='make bench' bash bench/run.sh

bench-smoke: bench-install
	SMOKE=1 BENCH_COMMAND='make bench-smoke' bash bench/run.sh

bench-install:
ifneq ($(SKIP_INSTALL),1)
	bash scripts/setup.sh
	cargo pgrx install --release --pg-config $(PG_CONFIG)
endif

# The Debian package of PostgreSQL 15 (scripts/package.sh): target/debian/postgresql-15-pg-erasure_*.deb
package:
	bash scripts/setup.sh
	bash scripts/package.sh 15
