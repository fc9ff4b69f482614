//! `erasure.check()` samples the values of kept text columns for what looks personal (e-mail
//! addresses, CPF/CNPJ, phone numbers, IBANs, IP addresses). Reading a table is code tied to
//! the table (a view's query, a column's type): it runs as the table's owner, restricted, like
//! every other read of user tables, and only for a caller who may read the column anyway.

use pgrx::prelude::*;

use crate::error::*;
use crate::security;

/// Whether some of the first 100 non-NULL values of `col` of `tbl` look personal; NULL when the
/// current user may not read the column (nothing is then read).
pub fn values_look_personal(tbl: pg_sys::Oid, col: &str) -> Option<bool> {
    Spi::connect(|client| {
        // Only tables: what a view shows is computed by code that is not the table's.
        let found = spi(client.select(
            "SELECT c.oid::pg_catalog.regclass::pg_catalog.text, t.typcategory OPERATOR(pg_catalog.=) 'A'
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              WHERE c.oid = $1 AND c.relkind IN ('r', 'p')
                AND pg_catalog.has_column_privilege($1, $2, 'SELECT')",
            None,
            &[tbl.into(), col.into()],
        ));
        if found.is_empty() {
            return None;
        }
        let row = found.first();
        let (table, array): (Option<String>, Option<bool>) = (spi(row.get(1)), spi(row.get(2)));
        let table = table?;
        // An array is sampled element by element, as jsonb is searched inside by the residual scan.
        let value = match array {
            Some(true) => format!("pg_catalog.unnest({})", pgrx::spi::quote_identifier(col)),
            _ => pgrx::spi::quote_identifier(col),
        };
        let sql = format!(
            r"SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0
                FROM (SELECT CAST({value} AS pg_catalog.text) AS v FROM {table}
                       WHERE {column} IS NOT NULL LIMIT 100) s
               WHERE v OPERATOR(pg_catalog.~) '^[^@\s]+@[^@\s]+\.[a-z]{{2,}}$'
                  OR v OPERATOR(pg_catalog.~) '^\d{{3}}\.\d{{3}}\.\d{{3}}-\d{{2}}$'
                  OR v OPERATOR(pg_catalog.~) '^\d{{2}}\.\d{{3}}\.\d{{3}}/\d{{4}}-\d{{2}}$'
                  OR v OPERATOR(pg_catalog.~) '^\+?[\d\s().-]{{8,}}$'
                  OR v OPERATOR(pg_catalog.~) '^[A-Z]{{2}}\d{{2}}[A-Z0-9]{{11,30}}$'
                  OR v OPERATOR(pg_catalog.~) '^\d{{1,3}}(\.\d{{1,3}}){{3}}$'",
            column = pgrx::spi::quote_identifier(col),
            table = table,
        );
        let owner = security::relation_owner(client, tbl);
        security::as_owner(owner, || {
            spi(client.select(sql.as_str(), None, &[]).and_then(|rows| rows.first().get_one::<bool>()))
        })
    })
}
