//! What PostgreSQL's catalogs say about the tables pg_erasure works on.
//!
//! Relation names are rendered by `regclass` output under the functions' pinned search_path,
//! so they come out schema-qualified and quoted where needed: valid SQL and readable reports.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::*;

/// A table as it exists now.
pub struct Relation {
    pub oid: pg_sys::Oid,
    /// Schema-qualified, quoted where needed: both the display name and the SQL to name it.
    pub name: String,
    /// What an UPDATE, DELETE or lock of its rows names: `ONLY name` for a table with
    /// inheritance children, which are registered (and erased) on their own, so that the
    /// parent's statement neither reaches their rows nor shadows their own statements.
    pub target: String,
}

/// A live (not dropped) column.
#[derive(Clone)]
pub struct Column {
    pub name: String,
    /// The column's type as SQL (`character varying(80)`, `shop.cpf`), for casts.
    pub type_sql: String,
    pub type_oid: pg_sys::Oid,
    /// The type, or for a domain the type underneath it.
    pub base_type: pg_sys::Oid,
    /// `S` for string types, `D` for date/time, ...: pg_type.typcategory of `base_type`.
    pub category: char,
    /// For an array (`category` `A`), the category of its elements; ' ' otherwise.
    pub element_category: char,
    pub not_null: bool,
    pub generated: bool,
}

impl Column {
    pub fn is_text(&self) -> bool {
        self.category == 'S'
    }

    pub fn is_date_or_timestamp(&self) -> bool {
        [pg_sys::DATEOID, pg_sys::TIMESTAMPOID, pg_sys::TIMESTAMPTZOID].contains(&self.base_type)
    }

    pub fn is_jsonb(&self) -> bool {
        self.base_type == pg_sys::JSONBOID
    }

    /// An array of a string type (`text[]`, `varchar[]`): text the residual scan reads too.
    pub fn is_text_array(&self) -> bool {
        self.category == 'A' && self.element_category == 'S'
    }
}

/// A foreign key from one table to another: `columns` reference `referenced`.
pub struct ForeignKey {
    /// The referencing table.
    pub table: pg_sys::Oid,
    pub name: String,
    pub columns: Vec<String>,
    pub referenced: Vec<String>,
}

/// The table with this OID; raises if it is gone or is not a table.
pub fn relation(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Relation {
    let row = spi(super::saved::select(
        client,
        "SELECT c.oid::pg_catalog.regclass::pg_catalog.text, c.relkind::pg_catalog.text,
                c.relpersistence::pg_catalog.text,
                c.relkind = 'r' AND EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid)
           FROM pg_catalog.pg_class c WHERE c.oid = $1",
        &[oid.into()],
    ));
    if row.is_empty() {
        ErasureError::new(ERRCODE_UNDEFINED_TABLE, format!("relation with OID {} does not exist", oid.to_u32()))
            .hint("A registered table was dropped; re-register its replacement or remove the registration.")
            .raise();
    }
    let row = row.first();
    let name: String = spi(row.get(1)).unwrap_or_default();
    let kind: String = spi(row.get(2)).unwrap_or_default();
    if kind != "r" && kind != "p" {
        ErasureError::new(ERRCODE_WRONG_OBJECT_TYPE, format!("\"{name}\" is not a table"))
            .detail("Only ordinary and partitioned tables can hold a subject's rows.")
            .raise();
    }
    if spi::<Option<String>>(row.get(3)).as_deref() == Some("t") {
        ErasureError::new(ERRCODE_WRONG_OBJECT_TYPE, format!("\"{name}\" is a temporary table"))
            .detail(
                "It exists in one session only: other sessions' erasures cannot reach it, and its registration would \
                 outlive it.",
            )
            .raise();
    }
    let inherited: bool = spi(row.get(4)).unwrap_or(false);
    let target = if inherited { format!("ONLY {name}") } else { name.clone() };
    Relation { oid, name, target }
}

/// The live columns of a table, in attribute order.
pub fn columns(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Vec<Column> {
    let rows = spi(super::saved::select(
        client,
        "SELECT a.attname::pg_catalog.text,
                pg_catalog.format_type(a.atttypid, a.atttypmod),
                a.atttypid,
                CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END,
                bt.typcategory::pg_catalog.text,
                a.attnotnull,
                a.attgenerated <> '',
                coalesce(et.typcategory::pg_catalog.text, ' ')
           FROM pg_catalog.pg_attribute a
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
           JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
           LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
        &[oid.into()],
    ));
    rows.map(|row| Column {
        name: spi(row.get(1)).unwrap_or_default(),
        type_sql: spi(row.get(2)).unwrap_or_default(),
        type_oid: spi(row.get(3)).unwrap_or(pg_sys::InvalidOid),
        base_type: spi(row.get(4)).unwrap_or(pg_sys::InvalidOid),
        category: spi(row.get::<String>(5)).unwrap_or_default().chars().next().unwrap_or(' '),
        not_null: spi(row.get(6)).unwrap_or(false),
        generated: spi(row.get(7)).unwrap_or(false),
        element_category: spi::<Option<String>>(row.get(8)).unwrap_or_default().chars().next().unwrap_or(' '),
    })
    .collect()
}

/// The column named `name` of `relation`, or an undefined_column error naming both.
pub fn column<'a>(relation: &Relation, columns: &'a [Column], name: &str) -> &'a Column {
    columns.iter().find(|c| c.name == name).unwrap_or_else(|| {
        ErasureError::new(
            ERRCODE_UNDEFINED_COLUMN,
            format!("column \"{name}\" of relation \"{}\" does not exist", relation.name),
        )
        .raise()
    })
}

/// The date a retained table's retention period runs from: `retain_from` names a date or
/// timestamp column of the table itself or, written `parent.column`, of the row of its parent
/// it belongs to — invoice lines, which have no date of their own, expire with their invoice
/// (`parent` is that word, not the parent's name, so renaming the parent changes nothing).
/// Registration checks it and the release plan reads it here, so both mean the same column.
pub struct RetentionStart {
    pub column: Column,
    /// The column is the parent's, read through the table's link to it.
    pub on_parent: bool,
}

pub fn retention_start(
    client: &SpiClient<'_>,
    table: &Relation,
    parent: &Relation,
    retain_from: &str,
) -> RetentionStart {
    let own = columns(client, table.oid);
    let (holder, column, on_parent) = match own.iter().find(|c| c.name == retain_from) {
        Some(column) => (table, column.clone(), false),
        None => {
            let on_parent = retain_from
                .strip_prefix("parent.")
                .and_then(|name| columns(client, parent.oid).into_iter().find(|c| c.name == name));
            let Some(column) = on_parent else {
                ErasureError::new(
                    ERRCODE_UNDEFINED_COLUMN,
                    format!("retain_from column \"{retain_from}\" of relation \"{}\" does not exist", table.name),
                )
                .hint(format!(
                    "Name a date column of the table, or one of its parent {} as parent.<column>.",
                    parent.name
                ))
                .raise()
            };
            (parent, column, true)
        }
    };
    if !column.is_date_or_timestamp() {
        ErasureError::new(
            ERRCODE_DATATYPE_MISMATCH,
            format!(
                "retain_from column \"{}\" of relation \"{}\" is not a date or timestamp",
                column.name, holder.name
            ),
        )
        .raise();
    }
    RetentionStart { column, on_parent }
}

/// What an erasure plan is built from, per table, as a digest: the table's kind, owner,
/// persistence, row security, children and partitions, columns, constraints (its own and those
/// referencing it), indexes, triggers, rules and policies. Statistics are not in it: ANALYZE
/// changes none of this (`plan::cache`).
pub fn definitions(client: &SpiClient<'_>, tables: &[pg_sys::Oid]) -> std::collections::HashMap<pg_sys::Oid, String> {
    if tables.is_empty() {
        return Default::default();
    }
    let array: Vec<pg_sys::Oid> = tables.to_vec();
    // After every ANALYZE of a registered table the plan cache asks for these digests: parsing
    // and planning this query each time would cost more than the erasure it precedes.
    let digests: Vec<(pg_sys::Oid, String)> = spi(super::saved::select(client, &DEFINITIONS_QUERY, &[array.into()]))
        .map(|row| (spi(row.get(1)).unwrap_or(pg_sys::InvalidOid), spi(row.get::<String>(2)).unwrap_or_default()))
        .collect();
    // On a Citus cluster, how a table is distributed decides how its batches run.
    digests
        .into_iter()
        .map(|(oid, digest)| match crate::citus::distribution(client, oid) {
            Some(d) => (oid, format!("{digest}|{}|{:?}|{}", d.method, d.column, d.colocation)),
            None => (oid, digest),
        })
        .collect()
}

static DEFINITIONS_QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(definitions_query);

/// The query of `definitions`: per table of `$1`, a digest of its catalog rows.
fn definitions_query() -> String {
    let list = |sql: &str| {
        format!("(SELECT pg_catalog.string_agg(CAST(x AS pg_catalog.text), ';' ORDER BY CAST(x AS pg_catalog.text)) FROM ({sql}) AS x)")
    };
    format!(
        "SELECT c.oid, pg_catalog.md5(pg_catalog.concat_ws('|',
                c.relname, c.relnamespace, c.relkind, c.relowner, c.relpersistence, c.relrowsecurity,
                c.relforcerowsecurity, c.relreplident, c.relispartition, c.relacl,
                {}, {}, {}, {}, {}, {}, {}))
           FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1)",
        list("SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attisdropped, a.attgenerated,
                     a.attidentity FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"),
        list("SELECT k.oid, k.conname, k.contype, k.conrelid, k.conkey, k.confrelid, k.confkey, k.confupdtype,
                     k.confdeltype, k.condeferrable, k.convalidated
                FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid OR k.confrelid = c.oid"),
        list("SELECT i.indexrelid, i.indkey, i.indisunique, i.indisvalid, i.indisready, i.indnkeyatts,
                     pg_catalog.md5(COALESCE(pg_catalog.pg_get_expr(i.indexprs, i.indrelid), '') ||
                                    COALESCE(pg_catalog.pg_get_expr(i.indpred, i.indrelid), ''))
                FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid"),
        list("SELECT t.oid, t.tgname, t.tgenabled, t.tgfoid, t.tgtype FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid"),
        list("SELECT r.oid, r.ev_type, r.ev_enabled FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid"),
        list("SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid"),
        list("SELECT p.oid, p.polcmd, p.polpermissive FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid"),
    )
}

/// The primary key's columns, in key order; empty when the table has none.
pub fn primary_key(client: &SpiClient<'_>, oid: pg_sys::Oid) -> Vec<String> {
    let keys: Option<Vec<String>> = spi(super::saved::select(
        client,
        "SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY k.ord)
               FROM pg_catalog.pg_constraint c,
                    pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord),
                    pg_catalog.pg_attribute a
              WHERE c.conrelid = $1 AND c.contype = 'p'
                AND a.attrelid = c.conrelid AND a.attnum = k.attnum",
        &[oid.into()],
    )
    .and_then(|rows| rows.first().get(1)));
    keys.unwrap_or_default()
}

/// Foreign keys declared on `from` that reference `to`, by name.
pub fn foreign_keys(client: &SpiClient<'_>, from: pg_sys::Oid, to: pg_sys::Oid) -> Vec<ForeignKey> {
    foreign_keys_where(client, "c.conrelid = $1 AND c.confrelid = $2", &[from.into(), to.into()])
}

/// Foreign keys declared on `from` that reference `to` and change the referencing rows when a
/// referenced key changes (ON UPDATE CASCADE, SET NULL or SET DEFAULT).
pub fn updating_foreign_keys(client: &SpiClient<'_>, from: pg_sys::Oid, to: pg_sys::Oid) -> Vec<ForeignKey> {
    foreign_keys_where(
        client,
        "c.conrelid = $1 AND c.confrelid = $2 AND c.confupdtype IN ('c', 'n', 'd')",
        &[from.into(), to.into()],
    )
}

/// A table's foreign keys onto itself whose delete rule forbids deleting a referenced row (NO
/// ACTION or RESTRICT): a customer's `referred_by`.
pub fn restricting_self_references(client: &SpiClient<'_>, table: pg_sys::Oid) -> Vec<ForeignKey> {
    foreign_keys_where(client, "c.conrelid = $1 AND c.confrelid = $1 AND c.confdeltype IN ('a', 'r')", &[table.into()])
}

/// Every foreign key referencing `to`, from any table: who else may point to a row.
pub fn referencing(client: &SpiClient<'_>, to: pg_sys::Oid) -> Vec<ForeignKey> {
    foreign_keys_where(client, "c.confrelid = $1", &[to.into()])
}

/// The foreign keys (declared on a table, not inherited by its partitions) matching
/// `condition` on pg_constraint `c`, by name.
fn foreign_keys_where(
    client: &SpiClient<'_>,
    condition: &str,
    arguments: &[pgrx::datum::DatumWithOid<'_>],
) -> Vec<ForeignKey> {
    let query = format!(
        "SELECT c.conrelid, c.conname::pg_catalog.text,
                ARRAY(SELECT a.attname::pg_catalog.text
                        FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                       ORDER BY k.ord),
                ARRAY(SELECT a.attname::pg_catalog.text
                        FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
                       ORDER BY k.ord)
           FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.conparentid = 0 AND {condition}
          ORDER BY c.conname"
    );
    spi(super::saved::select(client, &query, arguments))
        .map(|row| ForeignKey {
            table: spi(row.get(1)).unwrap_or(pg_sys::InvalidOid),
            name: spi(row.get(2)).unwrap_or_default(),
            columns: spi(row.get(3)).unwrap_or_default(),
            referenced: spi(row.get(4)).unwrap_or_default(),
        })
        .collect()
}

/// Renders column lists the way error messages show them: `(a, b)`.
pub fn column_list(columns: &[String]) -> String {
    format!("({})", columns.join(", "))
}

/// Whether the column alone identifies a row: the primary key, or a valid unique index over
/// exactly that column that is not partial (a partial one lets two rows share a value).
pub fn identifies_rows(client: &SpiClient<'_>, tbl: pg_sys::Oid, col: &str) -> bool {
    spi(super::saved::select(
        client,
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_index i
                              JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                             WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1
                               AND i.indnatts = 1 AND i.indpred IS NULL AND a.attname = $2)",
        &[tbl.into(), col.into()],
    )
    .and_then(|rows| rows.first().get_one::<bool>()))
    .unwrap_or(false)
}

/// The table and every table below it by partitioning or inheritance.
pub fn table_and_descendants(client: &SpiClient<'_>, tbl: pg_sys::Oid) -> Vec<pg_sys::Oid> {
    spi(super::saved::select(
        client,
        "WITH RECURSIVE tree(relid) AS (
             SELECT $1::pg_catalog.oid
             UNION
             SELECT i.inhrelid FROM tree t JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid)
         SELECT relid FROM tree",
        &[tbl.into()],
    ))
    .map(|row| spi(row.get::<pg_sys::Oid>(1)).unwrap_or(pg_sys::InvalidOid))
    .collect()
}

/// A unique index or exclusion constraint whose key includes the column, or whose expression
/// or predicate uses it (`UNIQUE (tenant_id, login)`, `UNIQUE (lower(login))`, an `EXCLUDE`):
/// its name, if any. Writing one value into the column for every erased subject collides there.
pub fn unique_index_using(client: &SpiClient<'_>, tbl: pg_sys::Oid, col: &str) -> Option<String> {
    spi(super::saved::select(
        client,
        "SELECT i.indexrelid::pg_catalog.regclass::pg_catalog.text
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attname = $2
              WHERE i.indrelid = $1 AND (i.indisunique OR i.indisexclusion)
                AND (a.attnum = ANY (i.indkey::pg_catalog.int2[])
                     OR EXISTS (SELECT FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = i.indexrelid
                                   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                   AND d.refobjid = i.indrelid AND d.refobjsubid = a.attnum))
              ORDER BY 1 LIMIT 1",
        &[tbl.into(), col.into()],
    )
    .and_then(|rows| if rows.is_empty() { Ok(None) } else { rows.first().get_one::<String>() }))
}
