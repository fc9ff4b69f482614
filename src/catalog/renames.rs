//! The old name of a renamed column, for the DDL watch. After `ALTER TABLE … RENAME COLUMN`,
//! `pg_event_trigger_ddl_commands()` reports the column by table and attnum, under its new
//! name only; the old one, which the catalog's entries still hold (they are keyed by column
//! name), is in the statement PostgreSQL collected. Reading it there makes the rename exact,
//! where matching an orphaned name against a new one would be a guess.

use pgrx::prelude::*;

/// `command` is a `pg_ddl_command` of the running event trigger: a `CollectedCommand`.
/// The old column name when it is `RENAME COLUMN` (of a table or of anything else whose columns
/// can be renamed), else nothing.
pub fn renamed_column(command: &pg_sys::CollectedCommand) -> Option<String> {
    // SAFETY: PostgreSQL collects the statement it ran; a RenameStmt's names are C strings.
    unsafe {
        let tree = command.parsetree;
        if tree.is_null() || !pgrx::is_a(tree, pg_sys::NodeTag::T_RenameStmt) {
            return None;
        }
        let rename = &*tree.cast::<pg_sys::RenameStmt>();
        if rename.renameType != pg_sys::ObjectType::OBJECT_COLUMN || rename.subname.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(rename.subname).to_string_lossy().into_owned())
    }
}
