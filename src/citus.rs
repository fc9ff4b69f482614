//! Citus, the sharding extension: the one place pg_erasure knows of it. Its catalog is read
//! only when the `citus` extension is installed in the database; everywhere else this module
//! answers "not distributed" and the engine runs as on any PostgreSQL.
//!
//! What Citus needs of a statement, and what the engine already gives every statement:
//! - each table filtered by the subject key (or a column carrying it), so a statement for one
//!   subject, or for keys of one shard group, runs on one worker;
//! - no VOLATILE function, and no STABLE function taking a column: the coordinator evaluates
//!   STABLE ones (`now()`) once and sends the rest to the shard (`pushdown_problem`).
//!
//! What is specific to a distributed subject, and lives here: grouping a batch's keys by shard
//! (`shard_groups`), and `erasure.check()`'s findings about how the registered tables are
//! distributed (`sharding_problems`).

use std::ffi::CStr;

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::*;

/// How Citus distributes a table.
pub struct Distribution {
    /// `h` hash-distributed, `n` reference table (a copy on every node), `s` single shard.
    pub method: char,
    /// The distribution column; None for reference tables.
    pub column: Option<String>,
    pub colocation: i32,
}

/// Whether the `citus` extension is installed in this database: a catalog index lookup, no
/// query, since plans ask it at every definition check.
fn installed() -> bool {
    unsafe { pg_sys::get_extension_oid(c"citus".as_ptr(), true) != pg_sys::InvalidOid }
}

/// How `tbl` is distributed; None when it is a local table or Citus is not installed.
pub fn distribution(client: &SpiClient<'_>, tbl: pg_sys::Oid) -> Option<Distribution> {
    if !installed() {
        return None;
    }
    let rows = spi(client.select(
        "SELECT partmethod::pg_catalog.text,
                CASE WHEN partkey IS NOT NULL
                     THEN pg_catalog.column_to_column_name(logicalrelid, partkey) END,
                colocationid
           FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1",
        None,
        &[tbl.into()],
    ));
    rows.into_iter().next().map(|row| Distribution {
        method: spi(row.get::<String>(1)).unwrap_or_default().chars().next().unwrap_or(' '),
        column: spi(row.get::<String>(2)),
        colocation: spi(row.get::<i32>(3)).unwrap_or_default(),
    })
}

/// Whether the subject's table is hash-distributed by its key: then a batch is erased one
/// shard group at a time (`shard_groups`).
pub fn sharded_by_key(client: &SpiClient<'_>, tbl: pg_sys::Oid, key_column: &str) -> bool {
    distribution(client, tbl).is_some_and(|d| d.method == 'h' && d.column.as_deref() == Some(key_column))
}

/// The positions of `keys` grouped by the shard of `tbl` that holds each, shards in order: a
/// batch statement filtered by `= ANY` over one group runs on one worker, with its row locks
/// and one snapshot. One group of all keys when `sharded` is false.
pub fn shard_groups(client: &SpiClient<'_>, sharded: bool, tbl: pg_sys::Oid, keys: &[String]) -> Vec<Vec<usize>> {
    if !sharded {
        return vec![(0..keys.len()).collect()];
    }
    let rows = spi(client.select(
        "SELECT pg_catalog.array_agg(CAST(k.n AS pg_catalog.int4) - 1 ORDER BY k.n)
           FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS k(key, n)
          GROUP BY pg_catalog.get_shard_id_for_distribution_column($1, k.key)
          ORDER BY pg_catalog.get_shard_id_for_distribution_column($1, k.key)",
        None,
        &[tbl.into(), keys.to_vec().into()],
    ));
    rows.map(|row| spi(row.get::<Vec<i32>>(1)).unwrap_or_default().into_iter().map(|i| i as usize).collect()).collect()
}

/// Why a sharded cluster could not run the SELECT `sql` (a policy's expression over its
/// table's row, as registration probes it) on a shard, if it could not: Citus refuses VOLATILE
/// functions in an UPDATE, STABLE functions that take a column, and any non-IMMUTABLE function
/// inside CASE or COALESCE. Parse analysis only: nothing runs.
pub fn pushdown_problem(sql: &str, types: &[pg_sys::Oid]) -> Option<String> {
    calls(sql, types).into_iter().find_map(|call| {
        let name = function_name(call.function);
        match (call.volatility, call.over_columns, call.conditional) {
            (b'v', _, _) => Some(format!("{name}() is VOLATILE")),
            (b's', true, _) => Some(format!("{name}() is STABLE and takes a column")),
            (b's', _, true) => Some(format!("{name}() is STABLE and inside CASE or COALESCE")),
            _ => None,
        }
    })
}

/// One function a statement calls (an operator's, a cast's, an I/O conversion's included).
pub struct Call {
    pub function: pg_sys::Oid,
    /// pg_proc.provolatile: `i`, `s` or `v`.
    pub volatility: u8,
    /// Whether one of its arguments reads a column of the row.
    pub over_columns: bool,
    /// Whether it sits inside a CASE or COALESCE.
    pub conditional: bool,
}

/// Every function the statement `sql` (taking parameters of `types`) calls, found in its
/// analysed query tree.
pub fn calls(sql: &str, types: &[pg_sys::Oid]) -> Vec<Call> {
    let text = std::ffi::CString::new(sql).unwrap_or_else(|_| {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "SQL must not contain a NUL byte").raise()
    });
    let mut context = Walk { calls: Vec::new(), conditional: false };
    unsafe {
        let list = pg_sys::pg_parse_query(text.as_ptr());
        for raw in pgrx::PgList::<pg_sys::RawStmt>::from_pg(list).iter_ptr() {
            let query = pg_sys::parse_analyze_fixedparams(
                raw,
                text.as_ptr(),
                types.as_ptr(),
                types.len() as i32,
                std::ptr::null_mut(),
            );
            pg_sys::query_tree_walker(query, Some(walk), (&raw mut context).cast(), 0);
        }
    }
    context.calls
}

struct Walk {
    calls: Vec<Call>,
    conditional: bool,
}

#[pg_guard]
unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, context: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    let context = &mut *(context as *mut Walk);
    let tag = (*node).type_;
    if tag == pg_sys::NodeTag::T_Query {
        return pg_sys::query_tree_walker(node.cast(), Some(walk), (context as *mut Walk).cast(), 0);
    }
    let mut functions: Vec<pg_sys::Oid> = Vec::new();
    pg_sys::check_functions_in_node(node, Some(collect), (&raw mut functions).cast());
    if !functions.is_empty() {
        let over_columns = pg_sys::contain_var_clause(node);
        for function in functions {
            let volatility = pg_sys::func_volatile(function) as u8;
            context.calls.push(Call { function, volatility, over_columns, conditional: context.conditional });
        }
    }
    let outer = context.conditional;
    context.conditional |= matches!(tag, pg_sys::NodeTag::T_CaseExpr | pg_sys::NodeTag::T_CoalesceExpr);
    let found = pg_sys::expression_tree_walker(node, Some(walk), (context as *mut Walk).cast());
    context.conditional = outer;
    found
}

#[pg_guard]
unsafe extern "C-unwind" fn collect(function: pg_sys::Oid, context: *mut std::ffi::c_void) -> bool {
    (*(context as *mut Vec<pg_sys::Oid>)).push(function);
    false
}

fn function_name(function: pg_sys::Oid) -> String {
    unsafe {
        let name = pg_sys::get_func_name(function);
        let schema = pg_sys::get_namespace_name(pg_sys::get_func_namespace(function));
        match (name.is_null(), schema.is_null()) {
            (false, false) => {
                format!("{}.{}", CStr::from_ptr(schema).to_string_lossy(), CStr::from_ptr(name).to_string_lossy())
            }
            _ => format!("function {}", function.to_u32()),
        }
    }
}

/// `erasure.sharding_problems(subject)`, for `erasure.check()`: `sharding_problems` of the
/// subject's plan; nothing, and no plan built, when the subject's table is not distributed.
pub fn problems_of(subject: &str) -> Vec<(pg_sys::Oid, String, String)> {
    let distributed =
        Spi::connect(|client| distribution(client, crate::catalog::entries::require_subject(client, subject).tbl));
    match distributed {
        None => Vec::new(),
        Some(_) => crate::plan::cache::with_plan(subject, problems),
    }
}

/// `sharding_problems` of a plan.
pub fn problems(plan: &crate::plan::Plan) -> Vec<(pg_sys::Oid, String, String)> {
    Spi::connect(|client| sharding_problems(client, &plan.subject_table, &plan.routing))
}

/// What Citus cannot route of a distributed subject: (table, problem, hint) for each
/// registered table whose rows are not where the subject's are. `carriers` are the plan's
/// tables (the subject's first) with the column of each that holds the subject key.
fn sharding_problems(
    client: &SpiClient<'_>,
    subject_table: &str,
    carriers: &[(pg_sys::Oid, String, Option<String>)],
) -> Vec<(pg_sys::Oid, String, String)> {
    let Some((root, _, Some(key_column))) = carriers.first() else { return Vec::new() };
    let Some(subject) = distribution(client, *root) else { return Vec::new() };
    let mut problems = Vec::new();
    if subject.method != 'h' || subject.column.as_deref() != Some(key_column.as_str()) {
        problems.push((
            *root,
            format!("the subject's table is distributed, but not by its key column {key_column}: erasures cannot be routed to one shard"),
            format!("SELECT undistribute_table('{subject_table}'); SELECT create_distributed_table('{subject_table}', '{key_column}');"),
        ));
        return problems;
    }
    for (tbl, name, carrier) in &carriers[1..] {
        let colocate = |column: &str| {
            format!(
                "SELECT create_distributed_table('{name}', '{column}', colocate_with => '{subject_table}');  -- after undistribute_table if it is distributed"
            )
        };
        let Some(carrier) = carrier else {
            problems.push((
                *tbl,
                "no column of it holds the subject key: Citus cannot route its rows with the subject's".to_string(),
                "Add the subject's key column to it, distribute it by that column, and register it with via columns that include it.".to_string(),
            ));
            continue;
        };
        match distribution(client, *tbl) {
            None => problems.push((
                *tbl,
                "is a local table while the subject's table is distributed: an erasure cannot change both in one statement".to_string(),
                colocate(carrier),
            )),
            Some(d) if d.method != 'h' => problems.push((
                *tbl,
                "is a reference table (a copy on every node): rows of one subject must live in its shard group".to_string(),
                colocate(carrier),
            )),
            Some(d) if d.column.as_deref() != Some(carrier.as_str()) || d.colocation != subject.colocation => {
                problems.push((
                    *tbl,
                    format!(
                        "is not distributed by {carrier} colocated with {subject_table}: its rows of a subject are on other shards"
                    ),
                    colocate(carrier),
                ))
            }
            Some(_) => {}
        }
    }
    problems
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;

    #[pg_test]
    fn finds_what_a_shard_could_not_run() {
        Spi::run("CREATE TABLE people (name text, born date, seen timestamptz)").unwrap();
        let problem = |expression: &str| pushdown_problem(&format!("SELECT {expression} FROM people"), &[]);
        assert_eq!(problem("pg_catalog.upper(name)"), None);
        assert_eq!(problem("pg_catalog.now()"), None, "STABLE without a column: evaluated once");
        assert_eq!(problem("pg_catalog.gen_random_uuid()"), Some("pg_catalog.gen_random_uuid() is VOLATILE".into()));
        assert_eq!(
            problem("pg_catalog.to_char(seen, 'YYYY')"),
            Some("pg_catalog.to_char() is STABLE and takes a column".into())
        );
        assert_eq!(
            problem("CAST(born AS pg_catalog.text)"),
            Some("pg_catalog.date_out() is STABLE and takes a column".into())
        );
        assert_eq!(
            problem("COALESCE(seen, pg_catalog.now())"),
            Some("pg_catalog.now() is STABLE and inside CASE or COALESCE".into())
        );
    }

    #[pg_test]
    fn without_citus_nothing_is_distributed() {
        Spi::run("CREATE TABLE local_people (id int PRIMARY KEY)").unwrap();
        Spi::connect(|client| {
            let tbl = spi(client.select("SELECT 'local_people'::regclass::oid", None, &[]))
                .first()
                .get_one::<pg_sys::Oid>()
                .unwrap()
                .unwrap();
            assert!(distribution(client, tbl).is_none());
            assert!(!sharded_by_key(client, tbl, "id"));
            let keys: Vec<String> = ["3", "1", "2"].map(String::from).to_vec();
            assert_eq!(shard_groups(client, false, tbl, &keys), vec![vec![0, 1, 2]]);
        });
    }
}
