#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the demo and the tests. Source it, then call
# cluster_start: it runs initdb and pg_ctl as the postgres OS user (PostgreSQL refuses root),
# listens only on a unix socket in a fresh temp directory (no TCP port to collide with), exports
# PGHOST/PGPORT/PGUSER/PGDATABASE for psql and clients (and CLUSTER_DIR, PG_BIN for tests that
# stop and restart the server), and stops and removes the cluster when the calling script
# exits, even on failure. PG_MAJOR (default 15) chooses the PostgreSQL major (scripts/majors.sh).

source "$(dirname "${BASH_SOURCE[0]}")/majors.sh"
PG_BIN=$("$(pg_config_of "${PG_MAJOR:-15}")" --bindir)
export PG_BIN

cluster_start() {
  export CLUSTER_DIR=$(mktemp -d /tmp/pg_erasure.XXXXXX)
  chown postgres: "$CLUSTER_DIR"
  trap cluster_stop EXIT
  sudo -u postgres "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 \
    || { cat "$CLUSTER_DIR/initdb.log"; return 1; }
  export PGHOST=$CLUSTER_DIR PGPORT=${CLUSTER_PORT:-5432} PGUSER=postgres PGDATABASE=postgres
  sudo -u postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w \
    -o "-p $PGPORT -k $CLUSTER_DIR -c listen_addresses='' -c fsync=off $*" start >/dev/null \
    || { cat "$CLUSTER_DIR/server.log"; return 1; }
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] || return 0
  sudo -u postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER_DIR"
  CLUSTER_DIR=
}
