//! The SQL text of an erasure, built from catalog data.
//!
//! Identifiers come from PostgreSQL (regclass output, quote_identifier); values (constants,
//! templates, jsonb paths) travel as `$n` text parameters, `$1` being the subject key. Every
//! function and operator is schema-qualified, so objects created in other schemas cannot take
//! their place. Each table is filtered by the subject key or by its `via` columns (never by
//! ctid), which keeps every statement routable on a sharded (Citus) cluster.

use pgrx::spi::{quote_identifier, quote_literal};

use super::tree::Keys;

/// `table.column`, both quoted.
pub fn qualified(table: &str, column: &str) -> String {
    format!("{table}.{}", quote_identifier(column))
}

/// `a = b`, with the equality operator that pg_catalog defines for the two types.
pub fn equals(left: &str, right: &str) -> String {
    format!("{left} OPERATOR(pg_catalog.=) {right}")
}

/// Catalog SQL (a filter, an expression, a blocker query) in parentheses. The newlines keep a
/// trailing `--` comment from swallowing the closing parenthesis.
pub fn embedded(sql: &str) -> String {
    format!("(\n{sql}\n)")
}

/// The subject's key as its row stores it (`7`, not the `7.0` a caller passed for a numeric
/// key), locking the row when `lock`: the text the ledger records, whatever form was asked for.
pub fn stored_key(table: &str, condition: &str, key_column: &str, lock: bool) -> String {
    let locking = if lock { " FOR UPDATE" } else { "" };
    format!("SELECT CAST({} AS pg_catalog.text) FROM {table} WHERE {condition}{locking}", qualified(table, key_column))
}

/// Locks the subject's rows of `table`, in key order so that concurrent erasures queue up
/// instead of deadlocking.
/// `target` is what the statement locks (`ONLY table` for a table with inheritance children).
pub fn lock_rows(target: &str, table: &str, condition: &str, order_by: &[String]) -> String {
    let order = if order_by.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order_by.iter().map(|c| qualified(table, c)).collect::<Vec<_>>().join(", "))
    };
    format!("SELECT FROM {target} WHERE {condition}{order} FOR UPDATE")
}

/// Every `lock_rows` statement of `locks` in one statement, each a branch of a UNION ALL, which
/// PostgreSQL runs in the order given (and every erasure runs the same statement, so all take
/// their locks in one order); returns an empty row per row locked. One round trip instead of
/// one per table: on a sharded cluster one command to the shard group's worker instead of one
/// per table; on one server as many instructions as separate statements (callgrind, the ERP
/// benchmark shape). A UNION ALL rather than a count per table in a select list: that would
/// initialize an aggregate per table, 2 % more instructions per erasure.
pub fn lock_all(locks: &[String]) -> String {
    let branches: Vec<String> = locks.iter().map(|l| format!("SELECT FROM ({l}) AS \"pg_erasure locked\"")).collect();
    branches.join("\nUNION ALL ")
}

pub fn count_rows(table: &str, condition: &str) -> String {
    format!("(SELECT pg_catalog.count(*) FROM {table} WHERE {condition})")
}

/// The subject's summary columns as one jsonb object (`{}` when there are none).
pub fn summary(table: &str, condition: &str, columns: &[String]) -> String {
    let pairs: Vec<String> = columns.iter().map(|c| format!("{}, {}", quote_literal(c), qualified(table, c))).collect();
    format!("SELECT pg_catalog.jsonb_build_object({}) FROM {table} WHERE {condition}", pairs.join(", "))
}

/// Finds the subject's identifying values (`$2`, a jsonb object {identifier: value}) inside
/// `columns` of the subject's rows of `table`, case-insensitively: (row key, column, identifier).
/// Its aliases are names no table is likely to have (a table called `c` would clash with `c`).
pub fn residual_scan(table: &str, condition: &str, columns: &[String], key: &[String]) -> String {
    let row_key = match key {
        [] => "NULL".to_string(),
        columns => format!(
            "pg_catalog.concat_ws(',', {})",
            columns.iter().map(|c| qualified(table, c)).collect::<Vec<_>>().join(", ")
        ),
    };
    let texts: Vec<String> = columns
        .iter()
        .map(|c| format!("({}, CAST({} AS pg_catalog.text))", quote_literal(c), qualified(table, c)))
        .collect();
    format!(
        "SELECT {row_key}, \"pg_erasure column\".col, \"pg_erasure value\".identifier
           FROM {table}
          CROSS JOIN LATERAL (VALUES {}) AS \"pg_erasure column\"(col, text)
           JOIN pg_catalog.jsonb_each_text($2) AS \"pg_erasure value\"(identifier, value)
             ON pg_catalog.strpos(pg_catalog.lower(\"pg_erasure column\".text),
                                  pg_catalog.lower(\"pg_erasure value\".value)) OPERATOR(pg_catalog.>) 0
          WHERE {condition}
          ORDER BY 1, 2, 3",
        texts.join(", ")
    )
}

/// A blocker query, each of its rows turned into one jsonb document.
pub fn blocker(query: &str) -> String {
    format!("SELECT pg_catalog.to_jsonb(b) FROM {} AS b", embedded(query))
}

/// A batch's keys (`$1`, an array) as rows, for statements written for one key, and the
/// expression that reads each: an alias no catalog SQL is likely to shadow.
const BATCH_KEYS: &str = "pg_catalog.unnest($1) AS \"pg_erasure keys\"(key)";
const BATCH_KEY: &str = "(\"pg_erasure keys\".key)";

/// `sql`, written for one key (`$1`), reading instead the key of each row of `BATCH_KEYS`.
fn for_each_key(sql: &str) -> String {
    crate::catalog::sql_check::replace_parameter(sql, 1, BATCH_KEY)
}

/// Every blocker query run for a batch of keys (`$1`, an array) in one statement: per row,
/// (the blocker's position in `queries`, key as text, the row as jsonb).
pub fn blockers_by_key(queries: &[String]) -> String {
    let selects: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(position, query)| {
            format!(
                "SELECT {position}, CAST({BATCH_KEY} AS pg_catalog.text), pg_catalog.to_jsonb(b)
                   FROM {BATCH_KEYS} CROSS JOIN LATERAL {} AS b",
                embedded(&for_each_key(query))
            )
        })
        .collect();
    selects.join("\nUNION ALL ")
}

/// The one statement that applies an erasure: an UPDATE or DELETE per table as data-modifying
/// CTEs, then one row of counts, in the order of `counts`. All parts of one statement see the
/// same snapshot, so a filter that matches on a value being masked (guest orders found by the
/// customer's e-mail) still finds its rows, and no part sees another's changes.
pub fn apply(changes: &[String], counts: &[String]) -> String {
    with_changes(changes, format!("SELECT {}", counts.join(",\n       ")))
}

/// The batch form of `apply`: `counts` are queries returning (table position, key, rows).
pub fn apply_by_key(changes: &[String], counts: &[String]) -> String {
    with_changes(changes, counts.join("\nUNION ALL "))
}

fn with_changes(changes: &[String], select: String) -> String {
    if changes.is_empty() {
        select
    } else {
        format!("WITH {}\n{select}", changes.join(",\n     "))
    }
}

pub fn update(table: &str, assignments: &[String], condition: &str) -> String {
    format!("UPDATE {table} SET {} WHERE {condition}", assignments.join(", "))
}

pub fn update_cte(name: &str, table: &str, assignments: &[String], condition: &str, returning: &str) -> String {
    format!("{name} AS ({} RETURNING {returning})", update(table, assignments, condition))
}

pub fn delete_cte(name: &str, table: &str, condition: &str, returning: &str) -> String {
    format!("{name} AS (DELETE FROM {table} WHERE {condition} RETURNING {returning})")
}

pub fn count_cte(name: &str) -> String {
    format!("(SELECT pg_catalog.count(*) FROM {name})")
}

pub fn count_cte_by_key(position: usize, name: &str) -> String {
    format!("SELECT {position}, k, pg_catalog.count(*) FROM {name} GROUP BY k")
}

pub fn count_rows_by_key(position: usize, table: &str, condition: &str, key: &str) -> String {
    format!("SELECT {position}, {key}, pg_catalog.count(*) FROM {table} WHERE {condition} GROUP BY 2")
}

/// Counts the rows of `referrer` joined (`on`) to the subject's rows of `table` (`condition`
/// for one key, `$1`): a count column; with `position`, for a batch, rows of (position, key,
/// rows), one per key.
pub fn count_references(table: &str, referrer: &str, on: &str, condition: &str, position: Option<usize>) -> String {
    let count = format!("(SELECT pg_catalog.count(*) FROM {table} JOIN {referrer} ON {on} WHERE {condition})");
    match position {
        None => count,
        Some(position) => format!(
            "SELECT {position}, CAST({BATCH_KEY} AS pg_catalog.text), {} FROM {BATCH_KEYS}",
            for_each_key(&count)
        ),
    }
}

/// Locks the rows of a batch of subjects (`$1`, an array of keys), in key order, and returns
/// for each key found the key as given and as its row stores it: keys are matched by the key
/// type's equality, so `7.0` finds the row holding `7`. The `= ANY` filter besides the join
/// lets a sharded cluster route the statement to the shard holding the keys.
pub fn lock_keys(table: &str, key_column: &str) -> String {
    const ROW: &str = "\"pg_erasure subject\"";
    let stored = qualified(ROW, key_column);
    format!(
        "SELECT CAST({BATCH_KEY} AS pg_catalog.text), CAST({stored} AS pg_catalog.text)
           FROM {BATCH_KEYS} JOIN {table} AS {ROW} ON {}
          WHERE {}
          ORDER BY {stored} FOR UPDATE OF {ROW}",
        equals(&stored, BATCH_KEY),
        equals(&stored, "ANY ($1)")
    )
}

/// The subjects of `table` whose key's digest (as `execute::ledger::recorded_key` makes it, with
/// the hmac key `$1`) is one of `$2`: (digest, key). A full scan; only replays and releases of
/// subjects with personal keys need it.
pub fn keys_by_digest(table: &str, key_column: &str) -> String {
    let key = format!("CAST({} AS pg_catalog.text)", qualified(table, key_column));
    format!(
        "SELECT \"pg_erasure digest\".digest, {key} FROM {table}
          CROSS JOIN LATERAL (SELECT 'hmac:' OPERATOR(pg_catalog.||) erasure.hmac_sha256({key}, $1)) AS \"pg_erasure digest\"(digest)
          WHERE \"pg_erasure digest\".digest OPERATOR(pg_catalog.=) ANY ($2)"
    )
}

/// The erasures recorded for some keys of a subject: `$1` the subject, `$2` the keys (text[],
/// or for `Keys::One` a text). The digest and the condition on `status` are the unique index
/// `ledger_subject_key`'s: without them the lookup would read the whole ledger, growing with
/// every erasure. One key compares directly, with no array to build.
pub(super) fn ledger_find(keys: Keys) -> String {
    let matching = match keys {
        Keys::One => "pg_catalog.md5(key) OPERATOR(pg_catalog.=) pg_catalog.md5($2) AND key OPERATOR(pg_catalog.=) $2",
        Keys::Batch => {
            "pg_catalog.md5(key) OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.md5(k) FROM pg_catalog.unnest($2) AS k))
    AND key OPERATOR(pg_catalog.=) ANY ($2)"
        }
    };
    format!(
        "SELECT key, request_id, status, pg_catalog.to_json(executed_at)::pg_catalog.text
   FROM erasure.ledger
  WHERE subject OPERATOR(pg_catalog.=) $1
    AND {matching}
    AND status OPERATOR(pg_catalog.<>) 'released'"
    )
}

/// Records erasures and queues their notifications on channel `erasure`, in one statement:
/// `$1` subject, `$2` mode, `$3` reference, `$4` keys, `$5` statuses, `$6` per-table counts
/// (jsonb as text), `$7` the calling role; returns the request ids in the order of the keys.
/// For `Keys::One`, `$4` to `$6` are one text each and the row is one VALUES row; for a batch
/// they are arrays, unnested in order.
pub(super) fn ledger_record(keys: Keys) -> String {
    let rows = match keys {
        Keys::One => {
            "VALUES ($1, $4, $5, $2, session_user, CAST($7 AS pg_catalog.name), pg_catalog.now(),
            CAST($6 AS pg_catalog.jsonb), $3)"
        }
        Keys::Batch => {
            "SELECT $1, e.key, e.status, $2, session_user, CAST($7 AS pg_catalog.name), pg_catalog.now(),
           CAST(e.tables AS pg_catalog.jsonb), $3
      FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),
                      pg_catalog.unnest($6::pg_catalog.text[]))
           WITH ORDINALITY AS e(key, status, tables, n)
     ORDER BY e.n"
        }
    };
    format!(
        "WITH recorded AS (
    INSERT INTO erasure.ledger
           (subject, key, status, mode, requested_by, executed_by, executed_at, tables, reference)
    {rows}
    RETURNING request_id, key, status)
SELECT r.request_id,
       pg_catalog.pg_notify('erasure', pg_catalog.format('{{\"subject\":%s,\"key\":%s,\"request_id\":%s,\"status\":%s}}',
           pg_catalog.to_json($1::pg_catalog.text), pg_catalog.to_json(r.key), r.request_id, pg_catalog.to_json(r.status)))
  FROM recorded r ORDER BY r.request_id"
    )
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;

    #[pg_test]
    fn locks_in_key_order() {
        assert_eq!(
            lock_rows("shop.orders", "shop.orders", "cond", &["id".into()]),
            "SELECT FROM shop.orders WHERE cond ORDER BY shop.orders.id FOR UPDATE"
        );
    }
}
