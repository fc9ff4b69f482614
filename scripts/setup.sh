#!/usr/bin/env bash
# Installs everything pg_erasure needs to build and test, idempotently: Debian's PostgreSQL 15
# with its server headers and pg_cron (a test schedules process_requests() with it), libclang
# (bindgen), sudo (to run PostgreSQL as the postgres user),
# cargo-pgrx pinned to the pgrx version in Cargo.toml, and pgrx's config pointing at PG 15.
set -euo pipefail

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGRX_VERSION=0.18.1   # keep equal to the pgrx pin in Cargo.toml: pgrx 0.19 needs rustc 1.96

need_apt=()
for pkg in postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev sudo; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (takes about 6 minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "pg15 = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
  echo "setup: cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG"
fi
