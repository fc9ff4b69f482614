//! Reading the catalog tables. Writes happen only in `register`.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiResult, SpiTupleTable};

use crate::error::*;
use crate::security;

/// Runs a fixed query on the catalog tables as the extension's owner: they are the
/// extension's, and whoever reads them here (a subject owner while its plan is built) needs no
/// right on them.
fn read<'conn>(
    client: &SpiClient<'conn>,
    sql: &str,
    arguments: &[DatumWithOid<'_>],
) -> SpiResult<SpiTupleTable<'conn>> {
    security::as_extension_owner(security::extension_owner(client), || super::saved::select(client, sql, arguments))
}

/// A row of `erasure.subjects`.
pub struct SubjectEntry {
    pub subject: String,
    pub tbl: pg_sys::Oid,
    pub key_column: String,
    pub summary_columns: Vec<String>,
    /// The key is itself personal: the ledger keeps a keyed digest of it.
    pub personal_key: bool,
}

/// What an erasure does to a registered table's rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    Mask,
    Delete,
    Retain,
}

impl Action {
    pub fn parse(action: &str) -> Option<Action> {
        match action {
            "mask" => Some(Action::Mask),
            "delete" => Some(Action::Delete),
            "retain" => Some(Action::Retain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Mask => "mask",
            Action::Delete => "delete",
            Action::Retain => "retain",
        }
    }
}

/// A row of `erasure.tables`.
pub struct TableEntry {
    pub tbl: pg_sys::Oid,
    pub action: Action,
    pub parent: pg_sys::Oid,
    pub via: Vec<String>,
    pub parent_columns: Vec<String>,
    pub filter: Option<String>,
    pub reason: Option<String>,
    /// For retained rows: how long (an interval, as text) from the date in `retain_from`.
    pub retention: Option<(String, String)>,
    /// The parent points to this table (`customer.address_id` → `address`): `parent_columns`
    /// are the parent's referencing columns, `via` the ones of this table they reference.
    pub referenced: bool,
}

/// A row of `erasure.column_policies`.
pub struct PolicyEntry {
    pub col: String,
    pub strategy: String,
    pub params: serde_json::Value,
}

/// A row of `erasure.blockers`.
pub struct BlockerEntry {
    pub name: String,
    pub query: String,
    pub message: Option<String>,
}

pub fn subject(client: &SpiClient<'_>, subject: &str) -> Option<SubjectEntry> {
    let rows = spi(read(
        client,
        "SELECT tbl::pg_catalog.oid, key_column::pg_catalog.text, summary_columns::pg_catalog.text[], personal_key
           FROM erasure.subjects WHERE subject = $1",
        &[subject.into()],
    ));
    if rows.is_empty() {
        return None;
    }
    let row = rows.first();
    Some(SubjectEntry {
        subject: subject.to_string(),
        tbl: spi(row.get(1)).unwrap_or(pg_sys::InvalidOid),
        key_column: spi(row.get(2)).unwrap_or_default(),
        summary_columns: spi(row.get(3)).unwrap_or_default(),
        personal_key: spi(row.get(4)).unwrap_or(false),
    })
}

/// The subject's entry, or an undefined_object error telling how to register it.
pub fn require_subject(client: &SpiClient<'_>, name: &str) -> SubjectEntry {
    subject(client, name).unwrap_or_else(|| {
        ErasureError::new(ERRCODE_UNDEFINED_OBJECT, format!("erasure subject \"{name}\" is not registered"))
            .hint("Register it first with erasure.register_subject().")
            .raise()
    })
}

/// The subject whose own table is `tbl`, if any.
pub fn subject_of_table(client: &SpiClient<'_>, tbl: pg_sys::Oid) -> Option<String> {
    spi(read(client, "SELECT subject FROM erasure.subjects WHERE tbl = $1", &[tbl.into()]))
        .first()
        .get(1)
        .unwrap_or(None)
}

pub fn tables(client: &SpiClient<'_>, subject: &str) -> Vec<TableEntry> {
    let rows = spi(read(
        client,
        "SELECT tbl::pg_catalog.oid, action, parent::pg_catalog.oid, via::pg_catalog.text[],
                parent_columns::pg_catalog.text[], filter, reason,
                retain_for::pg_catalog.text, retain_from::pg_catalog.text, referenced
           FROM erasure.tables WHERE subject = $1 ORDER BY tbl",
        &[subject.into()],
    ));
    rows.map(|row| TableEntry {
        tbl: spi(row.get(1)).unwrap_or(pg_sys::InvalidOid),
        action: Action::parse(&spi(row.get::<String>(2)).unwrap_or_default()).unwrap_or(Action::Retain),
        parent: spi(row.get(3)).unwrap_or(pg_sys::InvalidOid),
        via: spi(row.get(4)).unwrap_or_default(),
        parent_columns: spi(row.get(5)).unwrap_or_default(),
        filter: spi(row.get(6)),
        reason: spi(row.get(7)),
        retention: spi::<Option<String>>(row.get(8)).zip(spi::<Option<String>>(row.get(9))),
        referenced: spi(row.get(10)).unwrap_or(false),
    })
    .collect()
}

/// The subjects that register `tbl`, as their own table or as one holding their rows.
pub fn subjects_using(client: &SpiClient<'_>, tbl: pg_sys::Oid) -> Vec<String> {
    let rows = spi(read(
        client,
        "SELECT subject FROM erasure.subjects WHERE tbl = $1
          UNION SELECT subject FROM erasure.tables WHERE tbl = $1
          ORDER BY 1",
        &[tbl.into()],
    ));
    rows.map(|row| spi(row.get::<String>(1)).unwrap_or_default()).collect()
}

pub fn policies(client: &SpiClient<'_>, tbl: pg_sys::Oid) -> Vec<PolicyEntry> {
    let rows = spi(read(
        client,
        "SELECT col::pg_catalog.text, strategy, params FROM erasure.column_policies WHERE tbl = $1 ORDER BY col",
        &[tbl.into()],
    ));
    rows.map(|row| PolicyEntry {
        col: spi(row.get(1)).unwrap_or_default(),
        strategy: spi(row.get(2)).unwrap_or_default(),
        params: spi(row.get::<pgrx::JsonB>(3)).map(|j| j.0).unwrap_or(serde_json::Value::Null),
    })
    .collect()
}

pub fn blockers(client: &SpiClient<'_>, subject: &str) -> Vec<BlockerEntry> {
    let rows = spi(read(
        client,
        "SELECT name, query, message FROM erasure.blockers WHERE subject = $1 ORDER BY name",
        &[subject.into()],
    ));
    rows.map(|row| BlockerEntry {
        name: spi(row.get(1)).unwrap_or_default(),
        query: spi(row.get(2)).unwrap_or_default(),
        message: spi(row.get(3)),
    })
    .collect()
}

/// How `col` of `tbl` ties a subject to its rows, if it does: such a column cannot be masked.
pub fn structural_use(client: &SpiClient<'_>, tbl: pg_sys::Oid, col: &str) -> Option<String> {
    spi(read(
        client,
        "SELECT pg_catalog.format('is the key of erasure subject %L', subject)
           FROM erasure.subjects WHERE tbl = $1 AND key_column = $2::pg_catalog.name
         UNION ALL
         SELECT pg_catalog.format('links the table to its parent %s (via)', parent)
           FROM erasure.tables WHERE tbl = $1 AND $2::pg_catalog.name = ANY (via)
         UNION ALL
         SELECT pg_catalog.format('is referenced by %s (via)', tbl)
           FROM erasure.tables WHERE parent = $1 AND $2::pg_catalog.name = ANY (parent_columns)
         LIMIT 1",
        &[tbl.into(), col.into()],
    ))
    .first()
    .get(1)
    .unwrap_or(None)
}

/// The OID of `erasure.subjects`, which stands for the whole catalog in cache invalidations.
pub fn catalog_oid(client: &SpiClient<'_>) -> pg_sys::Oid {
    spi(read(client, "SELECT 'erasure.subjects'::pg_catalog.regclass::pg_catalog.oid", &[]))
        .first()
        .get(1)
        .unwrap_or(None)
        .unwrap_or(pg_sys::InvalidOid)
}

/// Per subject, a digest of everything registered for it that its plan is built from: its
/// row, its tables, their column policies, its blockers, when the hmac key was set, and the
/// findings acknowledged (which strict mode, checked once per plan, leaves alone).
pub fn registrations(client: &SpiClient<'_>, subjects: &[String]) -> std::collections::HashMap<String, String> {
    spi(read(
        client,
        "SELECT s.subject, pg_catalog.md5(pg_catalog.concat_ws('|', CAST(pg_catalog.to_jsonb(s) AS pg_catalog.text),
                (SELECT pg_catalog.string_agg(CAST(pg_catalog.to_jsonb(t) AS pg_catalog.text), ';' ORDER BY t.tbl)
                   FROM erasure.tables t WHERE t.subject = s.subject),
                (SELECT pg_catalog.string_agg(CAST(pg_catalog.to_jsonb(p) AS pg_catalog.text), ';' ORDER BY p.tbl, p.col)
                   FROM erasure.column_policies p
                  WHERE p.tbl = s.tbl OR p.tbl IN (SELECT t.tbl FROM erasure.tables t WHERE t.subject = s.subject)),
                (SELECT pg_catalog.string_agg(CAST(pg_catalog.to_jsonb(b) AS pg_catalog.text), ';' ORDER BY b.name)
                   FROM erasure.blockers b WHERE b.subject = s.subject),
                (SELECT pg_catalog.string_agg(CAST(pg_catalog.to_jsonb(a) AS pg_catalog.text), ';'
                                              ORDER BY a.finding, a.tbl, a.object)
                   FROM erasure.acknowledgements a WHERE a.subject = s.subject),
                (SELECT CAST(k.set_at AS pg_catalog.text) FROM erasure.hmac_key k)))
           FROM erasure.subjects s WHERE s.subject = ANY ($1)",
        &[subjects.to_vec().into()],
    ))
    .map(|row| (spi(row.get::<String>(1)).unwrap_or_default(), spi(row.get::<String>(2)).unwrap_or_default()))
    .collect()
}

/// The names of every registered subject.
pub fn subject_names(client: &SpiClient<'_>) -> Vec<String> {
    spi(read(client, "SELECT subject FROM erasure.subjects ORDER BY subject", &[]))
        .map(|row| spi(row.get::<String>(1)).unwrap_or_default())
        .collect()
}
