#!/usr/bin/env bash
# The upgrade from pg_erasure 0.1.0 to this build, as a user makes it: 0.1.0 as released
# (commit a451b30), built from git history and installed; a shop registered and erasing with
# 0.1.0's API (tests/upgrade/before.sql); then this build installed over it and
#   ALTER EXTENSION pg_erasure UPDATE TO '0.2.0'
# in a new session. It fails unless
#   (a) the extension's schema equals a fresh 0.2.0 install's in another database
#       (tests/upgrade/schema.sql: functions, tables, columns, constraints, indexes, views,
#       triggers, event triggers, grants and initial privileges, comments, membership,
#       pg_extension_config_dump), printing each line that differs;
#   (b) every catalog row, ledger row and request 0.1.0 left is there, as it was, each request
#       in the state 0.1.0's meant (tests/upgrade/rows.sql, before and after), and a pg_dump
#       of the upgraded database restores them;
#   (c) erasures work after the upgrade, what 0.1.0 erased stays erased, and the requests it
#       left open are approved and processed (tests/upgrade/after.sql), and the role erasure_executor, kept while another database
#       on 0.1.0 grants it privileges, can be dropped once that one is updated too;
# and that sql/pg_erasure--0.1.0.sql is what 0.1.0 generated. The 0.1.0 build is cached under
# target/upgrade/ (a second run only copies it). This build is installed again at the end, even
# on failure; the cluster is stopped.
#   bash scripts/upgrade.sh [MAJOR]      (default 15, the only major 0.1.0 was released for)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/majors.sh

major=${1:-15}
released=a451b30   # 0.1.0 as released: the last commit before the 0.2.0 work
pg_config=$(pg_config_of "$major")
lib=$("$pg_config" --pkglibdir)
ext=$("$pg_config" --sharedir)/extension
cache=$root/target/upgrade/0.1.0-pg$major   # the 0.1.0 build, laid out as cargo pgrx package stages it
work=$(mktemp -d /tmp/pg_erasure-upgrade.XXXXXX)
chmod 755 "$work"

# This build, installed (again): what later tiers and the user expect to find. Without 0.1.0's
# install script, which a package of this build does not ship: with this build's library it
# would create a 0.1.0 whose functions fail.
installed=0
install_current() {
  rm -f "$ext/pg_erasure--0.1.0.sql"
  cargo pgrx install --pg-config "$pg_config" >"$work/install.log" 2>&1 || { cat "$work/install.log"; return 1; }
  installed=1
}
finish() {
  local status=$?
  [ "$(type -t cluster_stop)" = function ] && cluster_stop
  [ "$installed" = 1 ] || install_current || status=1
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT

# 0.1.0 from git history, built once per major. It declared only PostgreSQL 15: for another
# major the build adds the Cargo feature main added later (04b70d6) and the one call PostgreSQL
# 16 renamed (pg_class_ownercheck); the SQL it generates is the same.
build_released() {
  if [ -e "$cache/built" ]; then
    echo "upgrade: 0.1.0 ($released) for PostgreSQL $major from the cache, $cache"
    return
  fi
  local src=$root/target/upgrade/src-0.1.0-pg$major
  git cat-file -e "$released^{commit}" 2>/dev/null \
    || { echo "upgrade: commit $released (0.1.0) is not in this clone: it needs the history (git fetch --unshallow)"; exit 1; }
  rm -rf "$src" "$cache"
  mkdir -p "$src"
  git archive "$released" | tar -x -C "$src"
  if [ "$major" != 15 ]; then
    sed -i 's|^pg15 = \["pgrx/pg15", "pgrx-tests/pg15"\]$|&\npg'"$major"' = ["pgrx/pg'"$major"'", "pgrx-tests/pg'"$major"'"]|' "$src/Cargo.toml"
    sed -i 's|pg_sys::pg_class_ownercheck(relation.oid, pg_sys::GetUserId())|pg_sys::object_ownercheck(pg_sys::RelationRelationId, relation.oid, pg_sys::GetUserId())|' \
      "$src/src/security.rs"
  fi
  echo "upgrade: building 0.1.0 ($released) for PostgreSQL $major"
  # A target directory of its own: a cdylib's file name carries no hash, so in this build's
  # directory the two builds would overwrite each other's library.
  (cd "$src" && CARGO_TARGET_DIR=$src/target cargo pgrx package --debug --pg-config "$pg_config" --out-dir "$cache") \
    >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
  rm -rf "$src"
  touch "$cache/built"
}

# As on a machine with the 0.1.0 package: nothing of this build's left.
install_released() {
  rm -f "$lib/pg_erasure.so" "$ext"/pg_erasure.control "$ext"/pg_erasure--*.sql
  installed=0
  cp "$cache$lib/pg_erasure.so" "$lib/"
  cp "$cache$ext/pg_erasure.control" "$cache$ext/pg_erasure--0.1.0.sql" "$ext/"
}

# psql of the major, failing with its output.
run() {
  local out=$1
  shift
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@" >"$work/$out" 2>&1 || { cat "$work/$out"; echo "upgrade: psql $* failed"; exit 1; }
}

# Lines of two files that differ, named: what $3 lacks (-) and has that $2 has not (+).
compare() {
  if ! diff -U0 --label "$4" --label "$5" "$work/$2" "$work/$3" >"$work/$1.diff"; then
    grep -v '^@@' "$work/$1.diff"
    echo "upgrade: $1 differ: '-' lines are in $4 only, '+' lines in $5 only"
    exit 1
  fi
}

started=$SECONDS
build_released
built=$SECONDS
if ! cmp -s "$cache$ext/pg_erasure--0.1.0.sql" sql/pg_erasure--0.1.0.sql; then
  diff -u sql/pg_erasure--0.1.0.sql "$cache$ext/pg_erasure--0.1.0.sql" | head -40
  echo "upgrade: sql/pg_erasure--0.1.0.sql is not the script 0.1.0 ($released) generates"
  exit 1
fi
install_released

PG_MAJOR=$major source scripts/cluster.sh
cluster_start
trap finish EXIT   # cluster_start set its own

# 0.1.0, as a shop used it; and another database on 0.1.0, whose registration granted
# erasure_executor a table there too.
"$PG_BIN/createdb" upgraded
run before.log -d upgraded -f tests/upgrade/before.sql
run rows-before.txt -d upgraded -f tests/upgrade/rows.sql
"$PG_BIN/createdb" other
run other.log -d other -c "CREATE EXTENSION pg_erasure VERSION '0.1.0'" \
  -c 'CREATE TABLE people (id integer PRIMARY KEY, name text)' \
  -c 'CREATE TABLE notes (id integer PRIMARY KEY, person_id integer REFERENCES people, body text)' \
  -c "SELECT erasure.register_subject('person', 'people')" -c "SELECT erasure.register_table('person', 'notes')"

# This build over it, and the upgrade in a new session.
install_current
[ -e "$ext/pg_erasure--0.1.0--0.2.0.sql" ] || { echo "upgrade: cargo pgrx install did not install the upgrade script"; exit 1; }
run alter.log -d upgraded -c "ALTER EXTENSION pg_erasure UPDATE TO '0.2.0'"
grep -E '^(WARNING|HINT)' "$work/alter.log" | sed 's/^/upgrade: ALTER EXTENSION said: /' || true
grep -q 'still holds privileges in 1 other database' "$work/alter.log" \
  || { echo "upgrade: the warning about erasure_executor does not name the other database on 0.1.0"; exit 1; }

# (a) The schema, against a fresh install.
"$PG_BIN/createdb" fresh
run fresh.log -d fresh -c 'CREATE EXTENSION pg_erasure'
run schema-fresh.txt -d fresh -f tests/upgrade/schema.sql
run schema-upgraded.txt -d upgraded -f tests/upgrade/schema.sql
if ! (compare schemas schema-fresh.txt schema-upgraded.txt 'fresh 0.2.0 install' 'upgraded from 0.1.0'); then
  echo "upgrade: fix sql/pg_erasure--0.1.0--0.2.0.sql in the section of each object named: a new or changed"
  echo "         function as sql/*.sql defines it, CREATE OR REPLACE (section 5; a DROP in section 2 first"
  echo "         if its arguments or result changed), a table change as ALTER TABLE (4), a grant (7)"
  exit 1
fi

# (b) The data 0.1.0 left, after the upgrade and after a dump and restore of it.
run rows-after.txt -d upgraded -f tests/upgrade/rows.sql
compare rows rows-before.txt rows-after.txt 'before the upgrade' 'after the upgrade'
"$PG_BIN/createdb" restored
"$PG_BIN/pg_dump" -d upgraded >"$work/upgraded.dump"
run restore.log -d restored -f "$work/upgraded.dump"
run rows-restored.txt -d restored -f tests/upgrade/rows.sql
compare restored-rows rows-after.txt rows-restored.txt 'the upgraded database' 'its dump, restored'

# (c) Erasures after the upgrade.
run after.txt -d upgraded -f tests/upgrade/after.sql
grep -c '^ok: ' "$work/after.txt" | sed 's/^/upgrade: checks passed after the upgrade: /'

# The README's way out for the role: the last database updated says it holds nothing, and it goes.
run alter-other.log -d other -c 'ALTER EXTENSION pg_erasure UPDATE'
grep -q 'No database grants it anything now: DROP ROLE erasure_executor' "$work/alter-other.log" \
  || { cat "$work/alter-other.log"; echo "upgrade: the last database updated does not say erasure_executor can go"; exit 1; }
run drop-role.log -d other -c 'DROP ROLE erasure_executor'

echo "upgrade: 0.1.0 → 0.2.0 on PostgreSQL $major: $(grep -c '' "$work/schema-fresh.txt") schema lines equal a fresh install's," \
     "$(grep -c '' "$work/rows-before.txt") data lines kept ($((built - started)) s for the 0.1.0 build, $((SECONDS - built)) s for the test)"
