//! Catalog SQL (a table's filter, an `expression` policy, a blocker query) is embedded in the
//! statements pg_erasure generates. Before it is accepted, PostgreSQL's own parser must show it
//! is exactly one expression (or one SELECT): then wrapping it in parentheses cannot let it
//! close ours and add a clause, a CTE or a second statement.

use std::ffi::CString;

use pgrx::pg_sys;

use crate::error::*;

/// The single SELECT that `sql` parses to, if it is exactly that. Syntax errors are raised.
unsafe fn single_select(sql: &str) -> Option<*mut pg_sys::SelectStmt> {
    let text = CString::new(sql).ok()?;
    let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
    if list.is_null() || (*list).length != 1 {
        return None;
    }
    let raw = (*(*list).elements).ptr_value as *mut pg_sys::RawStmt;
    let stmt = (*raw).stmt;
    if stmt.is_null() || (*stmt).type_ != pg_sys::NodeTag::T_SelectStmt {
        return None;
    }
    Some(stmt as *mut pg_sys::SelectStmt)
}

/// Whether `sql` is one SQL expression and nothing more: `SELECT (<sql>)` must parse to a
/// SELECT with one output column and no other clause.
pub fn is_single_expression(sql: &str) -> bool {
    unsafe {
        let Some(s) = single_select(&format!("SELECT (\n{sql}\n)")) else { return false };
        let s = &*s;
        s.op == pg_sys::SetOperation::SETOP_NONE
            && !s.targetList.is_null()
            && (*s.targetList).length == 1
            && s.fromClause.is_null()
            && s.whereClause.is_null()
            && s.groupClause.is_null()
            && s.havingClause.is_null()
            && s.windowClause.is_null()
            && s.sortClause.is_null()
            && s.limitCount.is_null()
            && s.limitOffset.is_null()
            && s.lockingClause.is_null()
            && s.withClause.is_null()
            && s.distinctClause.is_null()
            && s.intoClause.is_null()
            && s.valuesLists.is_null()
    }
}

/// Whether `sql` is exactly one SELECT statement that only reads: no INTO, and no WITH holding
/// an INSERT, UPDATE or DELETE (PostgreSQL allows those only at the top level, so this is the
/// one place to look).
pub fn is_single_select(sql: &str) -> bool {
    unsafe {
        single_select(sql).is_some_and(|s| {
            let with = (*s).withClause;
            let ctes = if with.is_null() { std::ptr::null_mut() } else { (*with).ctes };
            let only_selects = pgrx::PgList::<pg_sys::CommonTableExpr>::from_pg(ctes)
                .iter_ptr()
                .all(|cte| (*(*cte).ctequery).type_ == pg_sys::NodeTag::T_SelectStmt);
            (*s).intoClause.is_null() && only_selects
        })
    }
}

/// The highest `$n` a single SELECT refers to (0 when it takes no parameter), found by
/// PostgreSQL's parse analysis, which also checks that its tables and columns exist.
pub fn parameter_count(sql: &str) -> i32 {
    parameter_count_with(sql, &[])
}

/// Like `parameter_count`, with the first parameters' types declared (`$1` an interval), as
/// the statement will be prepared: `now() - $1` then analyses as the query will run.
pub fn parameter_count_with(sql: &str, declared: &[pg_sys::Oid]) -> i32 {
    let text = CString::new(sql).unwrap_or_else(|_| {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "query must not contain a NUL byte").raise()
    });
    unsafe {
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let raw = (*(*list).elements).ptr_value as *mut pg_sys::RawStmt;
        // parse analysis may enlarge the array (repalloc): it must be palloc'd.
        let mut types: *mut pg_sys::Oid = std::ptr::null_mut();
        if !declared.is_empty() {
            types = pg_sys::palloc(std::mem::size_of_val(declared)) as *mut pg_sys::Oid;
            std::ptr::copy_nonoverlapping(declared.as_ptr(), types, declared.len());
        }
        let mut count = declared.len() as i32;
        pg_sys::parse_analyze_varparams(raw, text.as_ptr(), &mut types, &mut count, std::ptr::null_mut());
        count
    }
}

/// `sql` with every reference to the parameter `$n` replaced by `replacement`. The references
/// are found by PostgreSQL's own lexer, so a `$1` inside a string literal, a quoted identifier,
/// a dollar-quoted string or a comment is left as it is.
pub fn replace_parameter(sql: &str, n: i32, replacement: &str) -> String {
    let text = CString::new(sql).unwrap_or_else(|_| {
        ErasureError::new(ERRCODE_INVALID_PARAMETER_VALUE, "SQL must not contain a NUL byte").raise()
    });
    let bytes = sql.as_bytes();
    let (mut replaced, mut copied) = (String::with_capacity(sql.len()), 0);
    unsafe {
        let mut extra = pg_sys::core_yy_extra_type::default();
        let scanner = pg_sys::scanner_init(
            text.as_ptr(),
            &mut extra,
            &raw const pg_sys::ScanKeywords,
            pg_sys::ScanKeywordTokens.as_ptr(),
        );
        loop {
            let (mut value, mut location) = (pg_sys::core_YYSTYPE::default(), 0);
            if pg_sys::core_yylex(&mut value, &mut location, scanner) == 0 {
                break;
            }
            // Only a parameter token starts with `$` and a digit (a dollar quote's tag cannot).
            let start = location as usize;
            if bytes[start] == b'$' && bytes.get(start + 1).is_some_and(u8::is_ascii_digit) && value.ival == n {
                let end = start + 1 + bytes[start + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                replaced.push_str(&sql[copied..start]);
                replaced.push_str(replacement);
                copied = end;
            }
        }
        pg_sys::scanner_finish(scanner);
    }
    replaced.push_str(&sql[copied..]);
    replaced
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;

    #[pg_test]
    fn accepts_single_expressions() {
        for sql in [
            "owner_type = 'customer'",
            "coalesce(company_name, 'Xxxx')",
            "guest_email = (SELECT email FROM pg_class WHERE oid = $1)",
            "status IN ('a', 'b') -- trailing comment",
            "a) OR (b",
        ] {
            // The last one is balanced when wrapped, and still a single expression: harmless.
            assert!(is_single_expression(sql), "{sql}");
        }
    }

    #[pg_test]
    fn refuses_anything_that_would_escape_its_parentheses() {
        for sql in [
            "true), (1",
            "true) FROM pg_class WHERE (true",
            "true) UNION SELECT (1",
            "1); DELETE FROM pg_class; SELECT (1",
            "true) LIMIT (1",
        ] {
            assert!(!is_single_expression(sql), "{sql}");
        }
    }

    #[pg_test]
    fn recognises_one_select() {
        assert!(is_single_select("SELECT 1 WHERE $1 = 1"));
        assert!(!is_single_select("SELECT 1; SELECT 2"));
        assert!(!is_single_select("DELETE FROM pg_class"));
        assert!(!is_single_select("SELECT 1 INTO t"));
        assert!(is_single_select("WITH a AS (SELECT 1) SELECT * FROM a"));
        assert!(!is_single_select("WITH d AS (DELETE FROM pg_class RETURNING oid) SELECT * FROM d"));
        assert_eq!(parameter_count("SELECT 1 WHERE $1::int = 1"), 1);
        assert_eq!(parameter_count("SELECT 1"), 0);
    }

    #[pg_test]
    fn counts_parameters_with_declared_types() {
        // Untyped, `now() - $1` would be a timestamptz minus a timestamptz: an interval compared
        // with a timestamptz fails. Declared an interval, $1 analyses as the rule will run.
        let sql = "SELECT 1 WHERE pg_catalog.now() - interval '1 day' < pg_catalog.now() - $1";
        assert_eq!(parameter_count_with(sql, &[pg_sys::INTERVALOID]), 1);
        assert_eq!(parameter_count_with("SELECT 1 WHERE $2 = 1", &[pg_sys::INTERVALOID]), 2);
        assert_eq!(parameter_count_with("SELECT 1", &[pg_sys::INTERVALOID]), 1);
    }

    #[pg_test]
    fn replaces_only_real_parameters() {
        assert_eq!(
            replace_parameter("SELECT '$1', \"$1\", $$ $1 $$, $10, $1 -- $1\n WHERE x = $1::int", 1, "(k.key)"),
            "SELECT '$1', \"$1\", $$ $1 $$, $10, (k.key) -- $1\n WHERE x = (k.key)::int"
        );
    }
}
