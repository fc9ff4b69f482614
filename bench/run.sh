#!/usr/bin/env bash
# pg_erasure's benchmark: the extension against hand-written baselines on two generated shapes,
# on a throwaway cluster (scripts/cluster.sh). Each shape is a folder: schema.sql (the tables and
# their data), policies.sql (its erasure policy, registered with pg_erasure's API) and
# baseline.sql (the same erasure by hand: bench_baseline_erase[_set], the same work as the engine,
# and bench_minimal_erase[_set], the least anyone could write):
#   bench/shop/   the large shape: a web shop, about 60 rows per customer over 12 tables;
#   bench/erp/    the small shape: seed 004's ERP, about 25 rows per customer over 7 tables.
# Writes its results table to BENCHMARKS.md (a smoke run: to bench/results.md, which git ignores).
#
#   make bench          the full run: 90 minutes measured on 2 cores, more than half of it
#                       generating the 5M-customer database (30 to 55 minutes; it also needs
#                       about 50 GB of disk)
#   make bench-smoke    SMOKE=1: tiny scales and short phases, about 40 s; fails only if the
#                       harness fails, never on a timing
#
# A shape is generated once into a template database; each contender then works on its own
# copy (CREATE DATABASE … TEMPLATE), erasing the same customers in the same order, and the data
# the copies end with must be identical (the run fails otherwise). Measurements:
#   1. single erasure, on both shapes: latency median and p99 of erasure.anonymize_customer(id)
#      against bench.bench_baseline_erase(id) and bench.bench_minimal_erase(id), with 1 and 2
#      clients (pgbench per-transaction logs); and on the shop, the refused erasure of a blocked
#      customer, 1 client;
#   2. bulk, on both shapes: erasure.anonymize_many in batches against
#      bench.bench_baseline_erase_set and bench.bench_minimal_erase_set;
#   3. OLTP impact, on the shop: pgbench's TPC-B-like load alone, then beside erasures;
#   4. scale, on the shop: the single-erasure median and the blocks read per erasure at each
#      size of SCALES, against the baseline's at the same size, both interleaved on one database.
# Measurements 1, 2 and the refusals run in ROUNDS rounds, the contenders in turn, in forward order
# in odd rounds and reversed in even ones, so that no contender always runs first: with one run
# each in a fixed order, the engine measured 0.77x the same work on the ERP and 1.46x on the
# shop's refusals, 1.01x and 1.07x once they took turns.
#
# Parameters (environment). Sizes are customer counts, or below 1000 multiples of 1,000,000
# (0.01 = 10,000 customers; 5 = 5,000,000).
#   SCALE           size of the shop of measurements 1-3               (full 0.1,  smoke 0.01)
#                   (the template and the three contenders' copies fit in memory at 0.1, so the
#                   ratios measure the engine, not the disk; measurement 4 covers larger sizes)
#   ERP_SCALE       size of the ERP of measurements 1-2                (full 0.1,  smoke 0.005)
#   SCALES          sizes of measurement 4, space-separated            (full "0.1 1 5", smoke "0.002 0.01")
#   DURATION        seconds of the OLTP load alone, and as many beside  (full 120,  smoke 6)
#                   the erasures, in OLTP_ROUNDS alternating segments    (full 4,    smoke 2)
#   ERASURES        erasures per single-erasure measurement            (full 5000, smoke 200)
#   REFUSALS        refused erasures of blocked customers              (ERASURES / 5)
#   BULK            customers of the bulk measurement per million      (100000: 10,000 at SCALE=0.1)
#   BATCH           customers per bulk batch                           (1000)
#   ROUNDS          rounds of measurements 1, 2 and the refusals, even (full 4,    smoke 2)
#   ERASE_RATE      erasures per second beside the OLTP load           (20)
#   OLTP_SCALE      pgbench -i scale factor of the OLTP tables         (full 10,   smoke 2)
#   SHARED_BUFFERS  the cluster's shared_buffers                       (full 4GB,  smoke 256MB)
#   RESULTS         where the results go                 (full BENCHMARKS.md, smoke bench/results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh

if [ "${SMOKE:-0}" = 1 ]; then
  : "${RESULTS:=bench/results.md}"
  : "${SCALE:=0.01}" "${ERP_SCALE:=0.005}" "${SCALES:=0.002 0.01}" "${DURATION:=6}" "${OLTP_ROUNDS:=2}" "${ERASURES:=200}" \
    "${OLTP_SCALE:=2}" "${SHARED_BUFFERS:=256MB}" "${ROUNDS:=2}"
else
  : "${RESULTS:=BENCHMARKS.md}"
  : "${SCALE:=0.1}" "${ERP_SCALE:=0.1}" "${SCALES:=0.1 1 5}" "${DURATION:=120}" "${OLTP_ROUNDS:=4}" "${ERASURES:=5000}" \
    "${OLTP_SCALE:=10}" "${SHARED_BUFFERS:=4GB}" "${ROUNDS:=4}"
fi
: "${BULK:=100000}" "${BATCH:=1000}" "${ERASE_RATE:=20}" "${REFUSALS:=$((ERASURES / 5))}"

# The settings of the cluster, as they appear in the results. scripts/cluster.sh adds fsync=off.
SETTINGS=(
  shared_buffers="$SHARED_BUFFERS"
  shared_preload_libraries=pg_stat_statements
  pg_stat_statements.track=all
  maintenance_work_mem=1GB
  work_mem=64MB
  effective_cache_size=16GB
  max_wal_size=4GB
  checkpoint_timeout=30min
  random_page_cost=1.1
)

log() { echo "bench: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# A size (customers, or below 1000 millions of customers) as a customer count.
customers_of() { awk -v s="$1" 'BEGIN { if (s < 1000) s *= 1000000; printf "%d", s + 0.5 }'; }

psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# One value (or unaligned rows) from a query in a database.
query() { psql -At -d "$1" -c "$2"; }
seconds_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

CUSTOMERS=$(customers_of "$SCALE")
ERP_CUSTOMERS=$(customers_of "$ERP_SCALE")
# Batches of the bulk measurement on a database of $1 customers.
bulk_batches_of() { awk -v b="$BULK" -v c="$1" -v n="$BATCH" 'BEGIN { x = int(b * c / 1000000 / n + 0.5); print (x < 1 ? 1 : x) }'; }
BULK_BATCHES=$(bulk_batches_of "$CUSTOMERS")
BULK_CUSTOMERS=$((BULK_BATCHES * BATCH))
ERP_BULK_BATCHES=$(bulk_batches_of "$ERP_CUSTOMERS")
SEGMENT=$((DURATION / OLTP_ROUNDS))
OLTP_ERASURES=$((ERASE_RATE * SEGMENT * OLTP_ROUNDS))
[ $((ROUNDS % 2)) -eq 0 ] && [ "$ROUNDS" -gt 0 ] || die "ROUNDS ($ROUNDS) must be even, so that each contender runs first as often as last"
[ "$SEGMENT" -ge 1 ] || die "DURATION ($DURATION s) must hold OLTP_ROUNDS ($OLTP_ROUNDS) segments of at least 1 s"
[ "$BULK_CUSTOMERS" -lt "$CUSTOMERS" ] || die "BULK ($BULK_CUSTOMERS customers) must be below the database's $CUSTOMERS customers"

# The generated data takes about 10 kB per customer on disk (measured: 485 MB for 50,000), the
# template and both contenders' copies exist at the same time, and the WAL takes up to max_wal_size.
need_kb=$((CUSTOMERS * 10 * 3))
for s in $SCALES; do
  kb=$(($(customers_of "$s") * 10))
  [ "$kb" -le "$need_kb" ] || need_kb=$kb
done
need_kb=$((need_kb + need_kb / 10 + 4 * 1048576))
free_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
[ "$free_kb" -gt "$need_kb" ] \
  || die "about $((need_kb / 1048576 + 1)) GB of disk needed in /tmp, $((free_kb / 1048576)) GB free"

# A debug build (what scripts/test.sh installs) is several times slower than the release build
# make bench installs; the results say which one ran.
LIBRARY=$("$PG_BIN/pg_config" --pkglibdir)/pg_erasure.so
if readelf -S "$LIBRARY" | grep -q '\.debug_info'; then
  BUILD="debug build ($LIBRARY carries debug info): pg_erasure's timings are not representative"
  log "warning: $BUILD"
else
  BUILD="release build"
fi

cluster_start $(printf -- '-c %s ' "${SETTINGS[@]}")
# pgbench's outputs and logs; cluster_start's EXIT trap stops the cluster, this one adds them.
WORK=$(mktemp -d /tmp/pg_erasure-bench.XXXXXX)
trap 'cluster_stop; rm -rf "$WORK"' EXIT
psql -d postgres -c "CREATE EXTENSION pg_stat_statements"

# Generates a shape ($1: shop or erp) at a size into a new database, with its erasure policy, the
# baselines and the erasure queues; sets GENERATED (seconds spent generating the data).
load_shape() {
  local shape=$1 db=$2 customers=$3 bulk=$4 start errors
  log "$db: generating $customers customers ($shape)"
  psql -d postgres -c "CREATE DATABASE \"$db\""
  start=$(date +%s.%N)
  psql -d "$db" -v customers="$customers" -f "bench/$shape/schema.sql"
  GENERATED=$(seconds_since "$start")
  log "$db: generated in $GENERATED s"
  psql -d "$db" -c "CREATE EXTENSION pg_erasure"
  psql -d "$db" -f "bench/$shape/policies.sql" >/dev/null
  errors=$(query "$db" "SELECT count(*) FROM erasure.check() WHERE severity = 'error'")
  if [ "$errors" != 0 ]; then
    psql -d "$db" -c "SELECT * FROM erasure.check() WHERE severity = 'error'" >&2
    die "erasure.check() reports $errors errors for bench/$shape/policies.sql"
  fi
  psql -d "$db" -f "bench/$shape/baseline.sql"
  psql -d "$db" -v bulk="$bulk" -v batch="$BATCH" -f bench/workload.sql
}

# Fails unless the single-erasure queue holds enough erasable customers.
require_queue() {
  local have
  have=$(query "$1" "SELECT count(*) FROM bench.single_queue")
  [ "$have" -ge "$2" ] || die "$1 has $have erasable customers in bench.single_queue, $2 needed"
}

# copy_template db [template]
copy_template() {
  psql -d postgres -c "CREATE DATABASE \"$1\" TEMPLATE \"${2:-bench_template}\" STRATEGY FILE_COPY"
}

drop_database() { psql -d postgres -c "DROP DATABASE \"$1\""; }

# The number of erasures a contender made: what its ledger records (the minimal one keeps
# none: its anonymized customers).
ledger_count() {
  case $2 in
    engine) query "$1" "SELECT count(*) FROM erasure.ledger" ;;
    baseline) query "$1" "SELECT count(*) FROM bench.erasure_ledger" ;;
    minimal) query "$1" "SELECT count(*) FROM bench.customers WHERE anonymized_at IS NOT NULL" ;;
  esac
}

# Runs pgbench; a run that fails or leaves a client aborted fails the benchmark.
pgbench_ok() {
  local out=$1
  shift
  pgbench "$@" >"$out" 2>&1 || { cat "$out" >&2; die "pgbench $*"; }
}

# From pgbench --log files: "median_ms p99_ms transactions" (nearest rank), failed ones excluded.
latency_stats() { script_latency_stats all "$@"; }
# The same for the transactions of one script (its number in the logs, from 0) of a pgbench run
# given several, or of all of them.
script_latency_stats() {
  local script=$1
  shift
  cat "$@" | awk -v s="$script" '$3 ~ /^[0-9]+$/ && (s == "all" || $4 == s) { print $3 }' | sort -n | awk '
    function rank(p,   i) { i = int(p * NR); if (i < p * NR) i++; return i < 1 ? 1 : i }
    { v[NR] = $1 }
    END { if (NR == 0) exit 1; printf "%.3f %.3f %d\n", v[rank(0.5)] / 1000, v[rank(0.99)] / 1000, NR }'
}

# The contenders in the order of round $1: forward in odd rounds, reversed in even ones.
in_turn() {
  local round=$1
  shift
  if [ $((round % 2)) -eq 1 ]; then printf '%s\n' "$@"; else printf '%s\n' "$@" | tac; fi
}

# Total seconds the transactions of pgbench --log files took.
busy_seconds() { cat "$@" | awk '$3 ~ /^[0-9]+$/ { s += $3 } END { printf "%.3f", s / 1000000 }'; }

tps_of() { sed -n 's/^tps = \([0-9]*\)\.[0-9]* (without initial connection time)$/\1/p' "$1"; }
# "mean min max" of the TPS of pgbench outputs.
tps_summary() {
  local f
  for f in "$@"; do tps_of "$f"; done \
    | awk '{ s += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "%.0f %d %d", s / NR, lo, hi }'
}
failed_of() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1" | grep . || echo 0; }
deadlocks_of() { query "$1" "SELECT deadlocks FROM pg_stat_database WHERE datname = '$1'"; }
# Blocks read from outside shared_buffers per call of a top-level statement calling function $2
# in database $1, the reads of the statements it ran included (pg_stat_statements).
blocks_read_per_call() {
  query postgres "SELECT round(sum(s.shared_blks_read)::numeric / sum(s.calls), 1)
                    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                   WHERE d.datname = '$1' AND s.toplevel AND s.query LIKE '%$2(%'"
}

# One number per table of what an erasure leaves: identical in every contender's copy once they
# erased the same customers (anonymized_at holds each erasure's own time, so only its presence
# counts), every table of schema bench but the queues and the baseline's ledger; and the erased
# customers' keys from the ledger (the minimal contender keeps none).
fingerprint() {
  local t sql=""
  for t in $(query "$1" "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = 'bench' AND c.relkind = 'r'
                            AND c.relname NOT IN ('bulk_queue', 'single_queue', 'blocked_queue', 'erasure_ledger')
                          ORDER BY 1"); do
    [ -z "$sql" ] || sql+=" UNION ALL "
    if [ "$t" = customers ]; then
      sql+="SELECT '$t', count(*), sum(hashtext((to_jsonb(x) - 'anonymized_at')::text)), count(x.anonymized_at) FROM bench.\"$t\" x"
    else
      sql+="SELECT '$t', count(*), sum(hashtext(x::text)), 0 FROM bench.\"$t\" x"
    fi
  done
  case $2 in
    engine) sql+=" UNION ALL SELECT 'ledger', count(*), sum(hashtext(key)), 0 FROM erasure.ledger" ;;
    baseline) sql+=" UNION ALL SELECT 'ledger', count(*), sum(hashtext(customer_id::text)), 0 FROM bench.erasure_ledger" ;;
  esac
  query "$1" "$sql ORDER BY 1"
}

# Fails unless every contender's copy ($1: the shape, then the contenders) holds the same data
# as the engine's (and, but for the minimal one, the same ledger).
same_data() {
  local shape=$1 c engine
  shift
  engine=$(fingerprint "bench_${shape}_engine" engine | grep -v '^ledger|')
  for c in "$@"; do
    [ "$c" = engine ] && continue
    log "$shape: comparing the data $c left with the engine's"
    if [ "$engine" != "$(fingerprint "bench_${shape}_$c" "$c" | grep -v '^ledger|')" ]; then
      diff <(echo "$engine") <(fingerprint "bench_${shape}_$c" "$c" | grep -v '^ledger|') >&2 || true
      die "pg_erasure and $c left different data on the $shape (table|rows|hash|anonymized): bench/$shape/baseline.sql no longer does what bench/$shape/policies.sql says"
    fi
  done
}

# Measurements 1 and 2 on a shape ($1), each contender on its own copy bench_<shape>_<contender>
# of template $2, with $3 bulk batches: R[<shape>.single<clients>.<contender>] and
# R[<shape>.bulk.<contender>].
single_and_bulk() {
  local shape=$1 template=$2 batches=$3 clients contender db before done_now erased per_client round n
  local contenders=(engine baseline minimal)
  for contender in "${contenders[@]}"; do
    log "$shape, $contender: copying the template"
    copy_template "bench_${shape}_$contender" "$template"
  done
  for clients in 1 2; do
    per_client=$((ERASURES / ROUNDS / clients))
    for round in $(seq "$ROUNDS"); do
      for contender in $(in_turn "$round" "${contenders[@]}"); do
        db=bench_${shape}_$contender
        log "$shape, round $round/$ROUNDS, $contender: $((per_client * clients)) single erasures, $clients client(s)"
        before=$(ledger_count "$db" "$contender")
        psql -d "$db" -c "CHECKPOINT"
        pgbench_ok "$WORK/$shape-single$clients-$contender-$round.out" -n -c "$clients" -j "$clients" -t "$per_client" \
          -f "bench/erase_$contender.sql" --log --log-prefix="$WORK/log.$shape-single$clients-$contender-$round" "$db"
        done_now=$(($(ledger_count "$db" "$contender") - before))
        [ "$done_now" -eq $((per_client * clients)) ] \
          || die "$contender erased $done_now customers of the $shape, $((per_client * clients)) expected"
      done
    done
    for contender in "${contenders[@]}"; do
      R[$shape.single$clients.$contender]=$(latency_stats "$WORK/log.$shape-single$clients-$contender"-*)
    done
  done
  local -A bulk_before
  for contender in "${contenders[@]}"; do bulk_before[$contender]=$(ledger_count "bench_${shape}_$contender" "$contender"); done
  for round in $(seq "$ROUNDS"); do
    # The batches spread over the rounds, as evenly as they divide.
    n=$((batches * round / ROUNDS - batches * (round - 1) / ROUNDS))
    [ "$n" -gt 0 ] || continue
    for contender in $(in_turn "$round" "${contenders[@]}"); do
      db=bench_${shape}_$contender
      log "$shape, round $round/$ROUNDS, $contender: bulk, $n batches of $BATCH"
      psql -d "$db" -c "CHECKPOINT"
      pgbench_ok "$WORK/$shape-bulk-$contender-$round.out" -n -c 1 -t "$n" -f "bench/bulk_$contender.sql" \
        --log --log-prefix="$WORK/log.$shape-bulk-$contender-$round" "$db"
    done
  done
  for contender in "${contenders[@]}"; do
    erased=$(($(ledger_count "bench_${shape}_$contender" "$contender") - bulk_before[$contender]))
    R[$shape.bulk.$contender]="$erased $(busy_seconds "$WORK/log.$shape-bulk-$contender"-*)"
  done
  same_data "$shape" "${contenders[@]}"
}

# The statements run inside functions (the erasures) that took the most time in a database, as
# markdown table rows.
top_statements() {
  query postgres "
    SELECT format('| %s | %s | %s | \`%s\` |', s.calls, round(s.mean_exec_time::numeric, 3),
                  round((s.total_exec_time / 1000)::numeric, 2),
                  replace(left(regexp_replace(s.query, '\s+', ' ', 'g'), 110), '|', '\|'))
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = '$1' AND NOT s.toplevel
     ORDER BY s.total_exec_time DESC LIMIT 10"
}

declare -A R   # results, by "measure.contender"

# -------------------------------------------------------------------------------------------
# The small shape: the ERP at ERP_SCALE, measurements 1 and 2. Every copy exists side by side
# and every measurement runs the contenders in turn, so that a drift of the machine's speed
# does not favour whichever runs first.

load_shape erp bench_erp_template "$ERP_CUSTOMERS" $((ERP_BULK_BATCHES * BATCH))
ERP_GENERATED=$GENERATED
require_queue bench_erp_template $((2 * ERASURES))
ERP_SIZE=$(query postgres "SELECT pg_size_pretty(pg_database_size('bench_erp_template'))")
ERP_BLOCKED=$(query bench_erp_template "SELECT count(*) FROM bench.customers c WHERE bench.blocked(c.id)")
# Rows per customer in the registered tables, from the statistics schema.sql's VACUUM ANALYZE left.
ERP_ROWS=$(query bench_erp_template "SELECT round(sum(c.reltuples)::numeric / $ERP_CUSTOMERS, 1)
                                       FROM erasure.tables t JOIN pg_class c ON c.oid = t.tbl")
ERP_ROWS=$(awk -v r="$ERP_ROWS" 'BEGIN { printf "%.1f", r + 1 }')   # and the customer's own row
single_and_bulk erp bench_erp_template "$ERP_BULK_BATCHES"
R[top.erp]=$(top_statements bench_erp_engine)
for db in bench_erp_engine bench_erp_baseline bench_erp_minimal bench_erp_template; do drop_database "$db"; done

# -------------------------------------------------------------------------------------------
# The large shape: the shop at SCALE with the OLTP tables beside it, measurements 1 to 3.

load_shape shop bench_template "$CUSTOMERS" "$BULK_CUSTOMERS"
MAIN_GENERATED=$GENERATED
pgbench -i -q -s "$OLTP_SCALE" bench_template >"$WORK/pgbench-init.out" 2>&1 \
  || { cat "$WORK/pgbench-init.out" >&2; die "pgbench -i"; }
require_queue bench_template $((2 * ERASURES + OLTP_ERASURES))
TEMPLATE_SIZE=$(query postgres "SELECT pg_size_pretty(pg_database_size('bench_template'))")
CHECK_FINDINGS=$(query bench_template "
  SELECT coalesce(string_agg(format('%s %s%s: %s', severity, tbl, coalesce('.' || col, ''), problem), E'\n'
                             ORDER BY severity, tbl::text, col), 'none')
    FROM erasure.check()")
BLOCKED=$(query bench_template "SELECT count(*) FROM bench.customers c WHERE bench.blocked(c.id)")

single_and_bulk shop bench_template "$BULK_BATCHES"
drop_database bench_shop_minimal

# Refused erasures of blocked customers: they lock the customer's rows, then the blockers refuse;
# a refusal changes nothing, so the queue may cycle.
CONTENDERS=(engine baseline)
for round in $(seq "$ROUNDS"); do
  for contender in $(in_turn "$round" "${CONTENDERS[@]}"); do
    log "round $round/$ROUNDS, $contender: $((REFUSALS / ROUNDS)) refused erasures of blocked customers"
    pgbench_ok "$WORK/refused-$contender-$round.out" -n -c 1 -t $((REFUSALS / ROUNDS)) -f "bench/refuse_$contender.sql" \
      --log --log-prefix="$WORK/log.refused-$contender-$round" "bench_shop_$contender"
  done
done
for contender in "${CONTENDERS[@]}"; do
  db=bench_shop_$contender
  # Each refusal was one (pgbench counts a caught one as done): check on the queue's first ones.
  erase_fn=erasure.anonymize_customer
  [ "$contender" = engine ] || erase_fn=bench.bench_baseline_erase
  refused=$(query "$db" "SELECT count(*) FILTER (WHERE bench.refused('$erase_fn', q.customer_id) = 'refused'), count(*)
                           FROM bench.blocked_queue q WHERE q.seq <= 50")
  [ "${refused%|*}" = "${refused#*|}" ] || die "$contender refused only $refused blocked customers"
  R[refused.$contender]=$(latency_stats "$WORK/log.refused-$contender"-*)
done

# OLTP: rounds of a segment of the load alone, then a segment of the load beside the erasures,
# each contender in turn; TPC-B's throughput on two cores varies by a third from one run to
# the next, and alternating spreads that over both conditions and both contenders.
declare -A ERASED_BEFORE DEADLOCKS_BEFORE FAILURES
for contender in "${CONTENDERS[@]}"; do
  db=bench_shop_$contender
  # After the bulk run, as the README advises; otherwise autovacuum cleans up during the rounds.
  psql -d "$db" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
  ERASED_BEFORE[$contender]=$(ledger_count "$db" "$contender")
  DEADLOCKS_BEFORE[$contender]=$(deadlocks_of "$db")
  FAILURES[$contender]=0
done
for round in $(seq "$OLTP_ROUNDS"); do
  for contender in "${CONTENDERS[@]}"; do
    db=bench_shop_$contender
    log "$contender: OLTP round $round/$OLTP_ROUNDS, $SEGMENT s alone, then $SEGMENT s beside $ERASE_RATE erasures per second"
    pgbench_ok "$WORK/oltp-alone-$contender-$round.out" -n -c 2 -j 2 -T "$SEGMENT" -b tpcb-like "$db"
    # Failures here are measured, not fatal: each side's exit status is kept.
    pgbench -n -c 2 -j 2 -T "$SEGMENT" -b tpcb-like --failures-detailed "$db" \
      >"$WORK/oltp-load-$contender-$round.out" 2>&1 &
    load_pid=$!
    erase_rc=0
    pgbench -n -c 1 -R "$ERASE_RATE" -t $((ERASE_RATE * SEGMENT)) -f "bench/erase_$contender.sql" --failures-detailed \
      --log --log-prefix="$WORK/log.oltp-erase-$contender-$round" "$db" \
      >"$WORK/oltp-erase-$contender-$round.out" 2>&1 || erase_rc=$?
    load_rc=0
    wait "$load_pid" || load_rc=$?
    [ -n "$(tps_of "$WORK/oltp-load-$contender-$round.out")" ] \
      || { cat "$WORK/oltp-load-$contender-$round.out" >&2; die "the OLTP load beside $contender did not run"; }
    FAILURES[$contender]=$((FAILURES[$contender] + $(failed_of "$WORK/oltp-load-$contender-$round.out")
                            + $(failed_of "$WORK/oltp-erase-$contender-$round.out") + (load_rc != 0) + (erase_rc != 0)))
  done
done
sleep 1   # the pgbench sessions report their statistics as they exit
for contender in "${CONTENDERS[@]}"; do
  db=bench_shop_$contender
  erased=$(($(ledger_count "$db" "$contender") - ERASED_BEFORE[$contender]))
  errors=$((FAILURES[$contender] + OLTP_ERASURES - erased))
  deadlocks=$(($(deadlocks_of "$db") - DEADLOCKS_BEFORE[$contender]))
  R[oltp.$contender]="$(tps_summary "$WORK/oltp-alone-$contender-"*.out) $(tps_summary "$WORK/oltp-load-$contender-"*.out) $erased $errors $deadlocks"
  R[oltp_latency.$contender]=$(latency_stats "$WORK/log.oltp-erase-$contender-"* || echo "- - 0")
done
R[top.shop]=$(top_statements bench_shop_engine)
same_data shop engine baseline
for contender in "${CONTENDERS[@]}"; do drop_database "bench_shop_$contender"; done

# -------------------------------------------------------------------------------------------
# Scale: the same single erasure on shops of several sizes, the main size first while its
# template still exists.

mapfile -t scale_list < <(for s in $SCALES; do customers_of "$s"; echo; done | sort -nu \
                            | awk -v main="$CUSTOMERS" '$1 == main { print; next } { rest[++n] = $1 }
                                                        END { for (i = 1; i <= n; i++) print rest[i] }')
[ "${#scale_list[@]}" -gt 0 ] || die "SCALES is empty"
template=1
declare -A GEN=()
for n in "${scale_list[@]}"; do
  db=bench_scale_$n
  if [ "$n" -eq "$CUSTOMERS" ] && [ "$template" = 1 ]; then
    copy_template "$db"
    GEN[$n]=$MAIN_GENERATED
  fi
  if [ "$template" = 1 ]; then drop_database bench_template; template=0; fi
  if [ -z "${GEN[$n]:-}" ]; then
    load_shape shop "$db" "$n" 0
    GEN[$n]=$GENERATED
  fi
  require_queue "$db" $((2 * ERASURES))
  # Both contenders share this database, whose pages each erasure brings into memory for the
  # next: whoever ran first would read what the other then finds cached (measured: twice the
  # blocks). So one pgbench session interleaves them, each transaction choosing one at random,
  # and pg_stat_statements tells each one's reads.
  psql -d "$db" -c "CHECKPOINT"
  log "scale $n: $((2 * ERASURES)) single erasures, pg_erasure and the baseline interleaved at random"
  pgbench_ok "$WORK/scale$n.out" -n -c 1 -t $((2 * ERASURES)) \
    -f bench/erase_engine.sql@1 -f bench/erase_baseline.sql@1 --log --log-prefix="$WORK/log.scale$n" "$db"
  R[scale$n.engine]="$(script_latency_stats 0 "$WORK/log.scale$n".*) $(blocks_read_per_call "$db" erasure.anonymize_customer)"
  R[scale$n.baseline]="$(script_latency_stats 1 "$WORK/log.scale$n".*) $(blocks_read_per_call "$db" bench.bench_baseline_erase)"
  R[scale$n.size]=$(query postgres "SELECT pg_size_pretty(pg_database_size('$db'))")
  drop_database "$db"
done

# -------------------------------------------------------------------------------------------
# The report.

field() { echo "${R[$1]}" | awk -v i="$2" '{ print $i }'; }
# ratio a b: a / b with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# verdict value op limit, op being <= or >=: "met" or "missed".
verdict() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
  print (v != "-" && (op == "<=" ? v <= l : v >= l)) ? "met" : "missed" }'; }
ms() { echo "$1 ms"; }

{
  echo "# pg_erasure benchmarks"
  echo
  if [ "${SMOKE:-0}" = 1 ]; then
    echo "**Smoke run**: tiny sizes and short phases, to check that the harness works; the timings"
    echo "below mean nothing and no target is judged on them."
    echo
  fi
  echo "pg_erasure against hand-written baselines on two generated shapes, each registered with"
  echo "pg_erasure's API (\`policies.sql\`) and written by hand (\`baseline.sql\`) twice: the same work"
  echo "as the engine (locks, blockers, the changes, a ledger row with an idempotency check, a"
  echo "notification) and the minimal erasure (locks, blockers and the changes; in bulk, the changes"
  echo "only). Each contender works on its own copy of one template database and erases the same"
  echo "customers in the same random order; the run checks that all copies end with identical data."
  echo
  echo "- **shop** (\`bench/shop/\`), the large shape: a web shop, 12 tables, about 60 rows per customer."
  echo "- **erp** (\`bench/erp/\`), the small shape: seed 004's ERP, 7 tables, about $ERP_ROWS rows per customer"
  echo "  (customers, branches, orders, order rows, invoices retained, tickets, credit checks deleted), two blockers."
  echo
  echo "## Run"
  echo
  echo "| | |"
  echo "| --- | --- |"
  echo "| command | \`${BENCH_COMMAND:-bash bench/run.sh}\` with SCALE=$SCALE ERP_SCALE=$ERP_SCALE SCALES=\"$SCALES\" DURATION=$DURATION OLTP_ROUNDS=$OLTP_ROUNDS ERASURES=$ERASURES BULK=$BULK BATCH=$BATCH ERASE_RATE=$ERASE_RATE OLTP_SCALE=$OLTP_SCALE ROUNDS=$ROUNDS |"
  echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| commit | $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sql 2>/dev/null || echo ' with uncommitted changes in src/ or sql/') |"
  echo "| CPU | $(nproc) × $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1) |"
  echo "| RAM | $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) |"
  echo "| PostgreSQL | $(query postgres "SELECT version()") |"
  echo "| pg_erasure | $(query postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_erasure'"), $BUILD |"
  echo "| settings | ${SETTINGS[*]} fsync=off (scripts/cluster.sh); everything else default |"
  echo "| shop | $CUSTOMERS customers, $BLOCKED of them blocked; $TEMPLATE_SIZE with the OLTP tables; generated in $MAIN_GENERATED s |"
  echo "| erp | $ERP_CUSTOMERS customers, $ERP_BLOCKED of them blocked; $ERP_SIZE; generated in $ERP_GENERATED s |"
  echo "| erasure.check() on the shop | $(echo "$CHECK_FINDINGS" | sed ':a;N;$!ba;s/\n/; /g;s/|/\\|/g') |"
  echo
  echo "## 1. Single erasure"
  echo
  echo "Latency of one erasure per transaction, from pgbench's per-transaction logs ($ERASURES"
  echo "erasures per row; with 2 clients, $((ERASURES / 2)) each), in $ROUNDS rounds: the contenders take turns,"
  echo "in forward order in odd rounds and reversed in even ones, so that none always runs first, on"
  echo "the coldest caches. The target compares pg_erasure with the same work by hand; the minimal"
  echo "erasure shows what the ledger and the checks cost anyone."
  echo
  echo "| shape | clients | statistic | pg_erasure | same work (PL/pgSQL) | minimal (PL/pgSQL) | ratio to same work | ratio to minimal | target | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for shape in erp shop; do
    for clients in 1 2; do
      for stat in median:1:1.1 p99:2:1.5; do
        IFS=: read -r name i limit <<<"$stat"
        e=$(field "$shape.single$clients.engine" "$i")
        b=$(field "$shape.single$clients.baseline" "$i")
        m=$(field "$shape.single$clients.minimal" "$i")
        r=$(ratio "$e" "$b")
        echo "| $shape | $clients | $name | $(ms "$e") | $(ms "$b") | $(ms "$m") | $r | $(ratio "$e" "$m") | ≤ $limit× | $(verdict "$r" "<=" "$limit") |"
      done
    done
  done
  echo
  echo "Refused erasures of blocked customers on the shop (an order awaiting payment, an active"
  echo "subscription): both lock every row they would change before the blockers look, then refuse"
  echo "(55000, caught by \`bench.refused()\`, which both go through); $REFUSALS refusals, 1 client, in"
  echo "$ROUNDS rounds taken in turn as above."
  echo
  echo "| statistic | pg_erasure | same work (PL/pgSQL) | ratio | target | result |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for stat in median:1:1.25 p99:2:2; do
    IFS=: read -r name i limit <<<"$stat"
    e=$(field "refused.engine" "$i")
    b=$(field "refused.baseline" "$i")
    r=$(ratio "$e" "$b")
    echo "| $name | $(ms "$e") | $(ms "$b") | $r | ≤ $limit× | $(verdict "$r" "<=" "$limit") |"
  done
  echo
  echo "## 2. Bulk erasure"
  echo
  echo "Random customers (the blocked ones included, and skipped by all) in batches of $BATCH, one"
  echo "transaction per batch, 1 client ($ERP_BULK_BATCHES batches on the erp, $BULK_BATCHES on the shop, spread over"
  echo "$ROUNDS rounds taken in turn as above):"
  echo "\`erasure.anonymize_many('customer', ids)\` against the set-based \`bench.bench_baseline_erase_set(ids)\`"
  echo "(the same work: locks, blockers, a ledger row and a notification per customer) and"
  echo "\`bench.bench_minimal_erase_set(ids)\` (one UPDATE or DELETE per table, no locks, no ledger)."
  echo
  echo "| shape | | pg_erasure | same work (set-based) | minimal (set-based) |"
  echo "| --- | --- | --- | --- | --- |"
  declare -A rate
  for shape in erp shop; do
    for c in engine baseline minimal; do
      rate[$c]=$(awk -v n="$(field "$shape.bulk.$c" 1)" -v s="$(field "$shape.bulk.$c" 2)" 'BEGIN { printf "%.0f", n / s }')
    done
    echo "| $shape | customers erased | $(field "$shape.bulk.engine" 1) | $(field "$shape.bulk.baseline" 1) | $(field "$shape.bulk.minimal" 1) |"
    echo "| $shape | seconds | $(field "$shape.bulk.engine" 2) | $(field "$shape.bulk.baseline" 2) | $(field "$shape.bulk.minimal" 2) |"
    echo "| $shape | customers per second | ${rate[engine]} | ${rate[baseline]} | ${rate[minimal]} |"
    R[$shape.bulk.ratio_same]=$(ratio "${rate[engine]}" "${rate[baseline]}")
    R[$shape.bulk.ratio_minimal]=$(ratio "${rate[engine]}" "${rate[minimal]}")
  done
  echo
  echo "| shape | ratio | value | target | result |"
  echo "| --- | --- | --- | --- | --- |"
  for shape in erp shop; do
    echo "| $shape | pg_erasure / same work | ${R[$shape.bulk.ratio_same]} | ≥ 1.0× | $(verdict "${R[$shape.bulk.ratio_same]}" ">=" 1.0) |"
    echo "| $shape | pg_erasure / minimal | ${R[$shape.bulk.ratio_minimal]} | ≥ 0.8× | $(verdict "${R[$shape.bulk.ratio_minimal]}" ">=" 0.8) |"
  done
  echo
  echo "## 3. OLTP impact"
  echo
  echo "pgbench's TPC-B-like load (scale $OLTP_SCALE, 2 clients) for $DURATION s alone and $DURATION s beside"
  echo "$OLTP_ERASURES erasures at $ERASE_RATE per second (a second pgbench, \`-R $ERASE_RATE\`), in each contender's"
  echo "database: $OLTP_ROUNDS rounds of $SEGMENT s alone then $SEGMENT s beside, the contenders in turn. TPS: the mean"
  echo "of the segments (lowest–highest). Errors: failed or missing transactions of either pgbench;"
  echo "deadlocks: pg_stat_database over the rounds."
  echo
  echo "| | TPS alone | TPS beside erasures | change | erasures | erasure median | erasure p99 | errors | deadlocks | target | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for contender in engine baseline; do
    read -r alone alone_lo alone_hi loaded loaded_lo loaded_hi erased errors deadlocks <<<"${R[oltp.$contender]}"
    change=$(awk -v a="$alone" -v l="$loaded" 'BEGIN { printf "%+.1f", (l - a) / a * 100 }')
    ok=$(awk -v c="$change" -v e="$errors" -v d="$deadlocks" 'BEGIN { print (c > -10 && e == 0 && d == 0) ? "met" : "missed" }')
    label=$([ "$contender" = engine ] && echo "pg_erasure" || echo "baseline (PL/pgSQL)")
    echo "| $label | $alone ($alone_lo–$alone_hi) | $loaded ($loaded_lo–$loaded_hi) | $change % | $erased | $(ms "$(field "oltp_latency.$contender" 1)") | $(ms "$(field "oltp_latency.$contender" 2)") | $errors | $deadlocks | drop < 10 %, no error or deadlock | $ok |"
  done
  echo
  echo "## 4. Scale"
  echo
  echo "The single erasure on the shop at several sizes, against the same work by hand at the same"
  echo "size, on one database: one pgbench session (1 client) runs $((2 * ERASURES)) erasures of the next customers"
  echo "of one queue, each transaction choosing pg_erasure or the baseline at random, so that both"
  echo "meet the same caches. Blocks read: buffers an erasure had to read from outside shared_buffers"
  echo "(pg_stat_statements' shared_blks_read of the erasure's statement, its nested statements"
  echo "included), which grow with the share of the database that does not fit in memory: an erasure"
  echo "there is bound by the pages it must read, for anyone."
  echo
  echo "| customers | database | generated in | erasures (pg_erasure / same work) | pg_erasure median | pg_erasure p99 | same work median | same work p99 | ratio of medians | blocks read per erasure (pg_erasure / same work) | target | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  mapfile -t sorted < <(printf '%s\n' "${scale_list[@]}" | sort -n)
  for n in "${sorted[@]}"; do
    r=$(ratio "$(field "scale$n.engine" 1)" "$(field "scale$n.baseline" 1)")
    e_read=$(field "scale$n.engine" 4)
    b_read=$(field "scale$n.baseline" 4)
    ok=$(awk -v r="$r" -v e="$e_read" -v b="$b_read" 'BEGIN { print (r != "-" && r <= 1.1 && e <= b) ? "met" : "missed" }')
    echo "| $n | ${R[scale$n.size]} | ${GEN[$n]} s | $(field "scale$n.engine" 3) / $(field "scale$n.baseline" 3) | $(ms "$(field "scale$n.engine" 1)") | $(ms "$(field "scale$n.engine" 2)") | $(ms "$(field "scale$n.baseline" 1)") | $(ms "$(field "scale$n.baseline" 2)") | $r | $e_read / $b_read | ≤ 1.1×, blocks ≤ same work's | $ok |"
  done
  echo
  echo "## Where the time goes"
  echo
  echo "The statements pg_erasure ran inside its functions that took the most time, per shape, over"
  echo "its measurements (pg_stat_statements, nested statements only; the shop's include the OLTP rounds)."
  for shape in erp shop; do
    echo
    echo "$shape:"
    echo
    echo "| calls | mean ms | total s | statement |"
    echo "| --- | --- | --- | --- |"
    echo "${R[top.$shape]}"
  done
} >"$WORK/results.md"

cp "$WORK/results.md" "$RESULTS"
cat "$RESULTS"
log "done: $RESULTS"
