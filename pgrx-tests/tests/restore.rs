//! Backups: a `pg_dump`/`pg_restore` round trip keeps the extension, its catalog and its
//! ledger working; and a database restored from a backup taken before some erasures gets them
//! back with `erasure.replay(erasure.ledger_export())`, once, whatever the number of runs.
//!
//! Needs the cluster of scripts/test.sh (PGHOST, PGPORT, PGUSER, PG_BIN).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// Runs a PostgreSQL client program against the test cluster; fails the test on failure.
fn run(program: &str, args: &[&str]) {
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let output = Command::new(format!("{bin}/{program}"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn backup_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pg_erasure_{name}_{}.dump", std::process::id()))
}

/// The shop's rows and the ledger's (subject, key, status), without physical identities:
/// what must be equal between two databases.
fn contents(client: &mut postgres::Client) -> Vec<String> {
    let mut rows: Vec<String> = snapshot(client)
        .into_iter()
        .filter(|(table, ..)| !table.starts_with("erasure."))
        .map(|(table, _, _, row)| format!("{table} {row}"))
        .collect();
    for r in client.query("SELECT subject, key, status FROM erasure.ledger ORDER BY subject, key", &[]).unwrap() {
        rows.push(format!("ledger {} {} {}", r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)));
    }
    rows.sort();
    rows
}

fn check_findings(client: &mut postgres::Client) -> Vec<String> {
    client
        .query("SELECT format('%s %s %s %s', severity, tbl, col, problem) FROM erasure.check() ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn dump_and_restore_keep_the_catalog_the_ledger_and_erasures_working() {
    let db = TestDb::create("dump");
    let mut original = db.connect();
    original.query_one("SELECT erasure.anonymize_customer(1::bigint)", &[]).unwrap();
    let file = backup_file("dump");
    let file_arg = file.to_str().unwrap();
    run("pg_dump", &["-Fc", "-f", file_arg, &db.name]);

    let restored = TestDb::empty("dump_restored");
    run("pg_restore", &["--exit-on-error", "-d", &restored.name, file_arg]);
    std::fs::remove_file(&file).ok();
    let mut copy = restored.connect();

    assert_eq!(contents(&mut copy), contents(&mut original), "the restored database differs");
    assert_eq!(check_findings(&mut copy), check_findings(&mut original), "check() finds something new");
    let erased: bool = copy.query_one("SELECT erasure.is_erased('customer', 1::bigint)", &[]).unwrap().get(0);
    assert!(erased, "the restored ledger forgot customer 1");
    // Erasures work in the copy, as the operator role would run them, and the ledger continues.
    copy.batch_execute("CREATE ROLE restore_operator IN ROLE erasure_operator; SET ROLE restore_operator").unwrap();
    let report = anonymize(&mut copy, 2).unwrap();
    copy.batch_execute("RESET ROLE; DROP ROLE restore_operator").unwrap();
    assert_eq!(report.status, "anonymized", "{}", report.text);
    let ids: Vec<i64> =
        copy.query("SELECT request_id FROM erasure.ledger ORDER BY 1", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[1] > ids[0], "the ledger's request ids restarted: {ids:?}");
}

#[test]
fn replay_reapplies_the_erasures_a_restored_backup_lacks_once() {
    let db = TestDb::create("replay");
    let mut live = db.connect();
    // A customer with nothing but its own row, to be deleted later.
    live.batch_execute("INSERT INTO shop.customers VALUES (4, 'Dora Dias', 'dora@example.com')").unwrap();
    live.query_one("SELECT erasure.anonymize_customer(1::bigint)", &[]).unwrap();
    let file = backup_file("replay");
    let file_arg = file.to_str().unwrap();
    run("pg_dump", &["-Fc", "-f", file_arg, &db.name]);

    // After the backup: customer 2 anonymized, customer 4 deleted, and customer 3's blocking
    // order paid, then customer 3 anonymized.
    live.batch_execute("UPDATE shop.orders SET status = 'paid' WHERE id = 301").unwrap();
    for (id, mode) in [(2_i64, "anonymize"), (4, "delete"), (3, "anonymize")] {
        live.query_one("SELECT erasure.anonymize('customer', $1::bigint, $2)", &[&id, &mode]).unwrap();
    }
    // The export, kept outside the database as the README describes.
    let export: String = live.query_one("SELECT erasure.ledger_export()::text", &[]).unwrap().get(0);

    // The disaster: the database is restored from the backup; 2, 3 and 4 are back.
    let restored = TestDb::empty("replay_restored");
    run("pg_restore", &["--exit-on-error", "-d", &restored.name, file_arg]);
    std::fs::remove_file(&file).ok();
    let mut copy = restored.connect();
    assert_eq!(customer(&mut copy, 2).0, "Bruno Barros", "the backup should predate customer 2's erasure");

    let replay = |client: &mut postgres::Client| -> Vec<(i64, String, String)> {
        client
            .query("SELECT request_id, key, status FROM erasure.replay($1::text::jsonb) ORDER BY 1", &[&export])
            .unwrap_or_else(|e| panic!("replay failed: {}", describe(&e)))
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let statuses: Vec<(String, String)> = replay(&mut copy).into_iter().map(|(_, k, s)| (k, s)).collect();
    let expected = [("1", "present"), ("2", "anonymized"), ("4", "deleted"), ("3", "anonymized")];
    assert_eq!(statuses, expected.map(|(k, s)| (k.to_string(), s.to_string())).to_vec());
    // Customer 3 was replayed although its order is awaiting payment again in the copy.
    let status: String = copy.query_one("SELECT status FROM shop.orders WHERE id = 301", &[]).unwrap().get(0);
    assert_eq!(status, "awaiting_payment");

    // The shop's data now equals the live database's, but for what happened after the backup
    // besides the erasures (order 301 paid).
    copy.batch_execute("UPDATE shop.orders SET status = 'paid' WHERE id = 301").unwrap();
    assert_eq!(contents(&mut copy), contents(&mut live), "replay did not reproduce the erasures");

    // Idempotent: a second run changes nothing.
    let before = snapshot(&mut copy);
    let again: Vec<String> = replay(&mut copy).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(again, ["present"; 4]);
    assert_eq!(snapshot(&mut copy), before, "a second replay changed rows");
}
