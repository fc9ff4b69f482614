//! Races between sessions, each interleaving forced deterministically: one session holds a
//! lock (a row lock, a table lock, the per-subject registration lock), the other is started in
//! a thread, and the test goes on only once the server reports that backend waiting on a lock
//! held by the first one (`pg_stat_activity.wait_event_type = 'Lock'`, the holder among
//! `pg_blocking_pids()`, an ungranted row in `pg_locks`). No sleep decides an ordering.
//!
//! 1. An erasure refuses a transaction snapshot (REPEATABLE READ, SERIALIZABLE) with 25000
//!    before reading anything; previews and blocker lists still run there; at READ COMMITTED
//!    the erasure sees, and masks, an order committed after its transaction began.
//! 2. The blockers are decided under the erasure's row locks: an order set to awaiting payment
//!    by the session the erasure waited for blocks the erasure (55000), which changes nothing.
//! 3. A registration waiting for a table that is being dropped ends in 42P01, not XX000.
//! 4. Registrations of one subject are serialized: the second validates what the first
//!    committed, and a catalog the pair would make invalid is refused (42830), either order.
//! 5. `process_requests()` goes through every request in one run, recording each failure on
//!    its request (and a vanished subject as not_found); a second run retries only the failing.
//! 6. Requests, the ledger and bulk erasures know a numeric key by its value (7 = 7.0 = 7.00).
//! 7. Two sessions erasing one customer: the second waits, then reports already_erased.
//!
//! Needs a running cluster with pg_erasure installed (`source scripts/cluster.sh;
//! cluster_start`), like the other tests of this crate. Each test works in a database of its
//! own. Every wait is bounded: a hang fails the test instead of stalling the run.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use postgres::Client;
use serde_json::Value;

/// The most any expected event (a lock wait, a statement's end) may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// The SQLSTATE of an error, if the server sent one.
fn code(e: &postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

// ---------------------------------------------------------------------------------------------
// A statement in another thread, and waiting until it waits for a lock.
// ---------------------------------------------------------------------------------------------

/// A lock a backend waits for, from pg_locks: (locktype, relation, objid).
type Wait = (String, Option<u32>, Option<u32>);

/// Polls from `observer` until backend `waiter` (running `pending`) waits on a heavyweight lock
/// (`wait_event_type = 'Lock'`) that backend `holder` blocks, and returns its ungranted locks.
/// Fails if the statement returns instead, or if that does not happen within DEADLINE.
fn wait_for_lock<T: Debug>(observer: &mut Client, pending: &mut Background<T>, waiter: i32, holder: i32) -> Vec<Wait> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(result) = pending.returned() {
            panic!("{} returned instead of waiting for a lock held by session {holder}: {result:?}", pending.what);
        }
        let row = observer
            .query_opt(
                "SELECT a.wait_event_type IS NOT DISTINCT FROM 'Lock' AND $2 = ANY(pg_blocking_pids($1)),
                        coalesce(a.state, '') || ' / ' || coalesce(a.wait_event_type, '-') || ':'
                            || coalesce(a.wait_event, '-') || ' / ' || coalesce(a.query, '')
                   FROM pg_stat_activity a WHERE a.pid = $1",
                &[&waiter, &holder],
            )
            .expect("pg_stat_activity");
        let (waiting, activity): (bool, String) = match row {
            Some(row) => (row.get(0), row.get(1)),
            None => (false, "(session gone)".to_string()),
        };
        if waiting {
            let locks: Vec<Wait> = observer
                .query("SELECT locktype, relation, objid FROM pg_locks WHERE pid = $1 AND NOT granted", &[&waiter])
                .expect("pg_locks")
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            if !locks.is_empty() {
                return locks;
            }
        }
        if Instant::now() >= deadline {
            panic!(
                "{} (session {waiter}) did not wait for a lock of session {holder} within {DEADLINE:?}; it is: {activity}",
                pending.what
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Reading state.
// ---------------------------------------------------------------------------------------------

/// (key, status) of every ledger row of a subject, by request id.
fn ledger(client: &mut Client, subject: &str) -> Vec<(String, String)> {
    client
        .query("SELECT key, status FROM erasure.ledger WHERE subject = $1 ORDER BY request_id", &[&subject])
        .expect("ledger")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// (table, action, parent) of every erasure.tables row, by table name.
fn registered_tables(client: &mut Client) -> Vec<(String, String, String)> {
    client
        .query("SELECT tbl::text, action, parent::text FROM erasure.tables ORDER BY 1", &[])
        .expect("erasure.tables")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The `rows` a report gives for a table.
fn report_rows(report: &Report, table: &str) -> i64 {
    let report: Value = serde_json::from_str(&report.text).expect("the report is json");
    report["tables"]
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["table"] == table))
        .and_then(|t| t["rows"].as_i64())
        .unwrap_or_else(|| panic!("the report has no rows for {table}: {report}"))
}

fn erasure_blocker_names(client: &mut Client, id: i64) -> Vec<String> {
    client
        .query("SELECT blocker FROM erasure.erasure_blockers($1::bigint)", &[&id])
        .expect("erasure_blockers")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Snapshot isolation refused.
// ---------------------------------------------------------------------------------------------

/// Under REPEATABLE READ or SERIALIZABLE, with the transaction's snapshot taken before another
/// session committed a new order of customer 2, every erasing function fails with 25000 before
/// reading anything (an unknown or invalid key, a malformed replay document: still 25000) and
/// changes nothing; erasure_preview and erasure_blockers run. At READ COMMITTED, in a
/// transaction begun before another new order committed, the erasure masks every order,
/// the new ones included.
#[test]
fn erasure_refuses_transaction_snapshots_and_masks_orders_committed_meanwhile() {
    let db = TestDb::create("race_isolation");
    let mut observer = db.connect();
    let mut eraser = db.connect();
    let mut writer = db.connect();
    let new_order = |writer: &mut Client| -> i64 {
        writer
            .query_one(
                "INSERT INTO shop.orders (customer_id, status, ship_name) VALUES (2, 'new', 'Bruno Barros') RETURNING id",
                &[],
            )
            .unwrap_or_else(|e| panic!("insert of a new order: {}", describe(&e)))
            .get(0)
    };

    // Controls at READ COMMITTED: these calls fail once they read (no such customer, a key
    // bigint does not accept, a document that is no export), so the 25000 below, for the very
    // same calls, shows the refusal comes before anything is read.
    let controls = [
        ("SELECT erasure.anonymize_customer(999::bigint)", "P0002"),
        ("SELECT erasure.anonymize_customer('not-a-number'::text)", "22P02"),
        ("SELECT * FROM erasure.replay('{}'::jsonb)", "22023"),
    ];
    for (sql, expected) in controls {
        let e = observer.execute(sql, &[]).expect_err(sql);
        assert_eq!(code(&e), Some(expected), "{sql} at READ COMMITTED: {}", describe(&e));
    }

    let mut new_orders = Vec::new();
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        eraser.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}; SELECT 1")).unwrap();
        // The writer, at READ COMMITTED, commits a new order after the snapshot was taken.
        let id = new_order(&mut writer);
        new_orders.push(id);
        let seen: i64 = eraser.query_one("SELECT count(*) FROM shop.orders WHERE id = $1", &[&id]).unwrap().get(0);
        assert_eq!(seen, 0, "{level}: the transaction's snapshot predates order {id}");
        let before = snapshot(&mut observer);

        let e = anonymize(&mut eraser, 2).expect_err("an erasure under a transaction snapshot must be refused");
        assert_eq!(code(&e), Some("25000"), "{level}: anonymize_customer(2): {}", describe(&e));
        eraser.batch_execute("ROLLBACK").unwrap();

        assert_eq!(snapshot(&mut observer), before, "{level}: the refused erasure changed rows");
        assert_eq!(ledger(&mut observer, "customer"), vec![], "{level}: no erasure may be recorded");
        assert_eq!(customer(&mut observer, 2), ("Bruno Barros".into(), "bruno@example.com".into()));
        let mut expected = vec![(201, Some("shipped".to_string()), Some("Bruno Barros".to_string()))];
        expected.extend(new_orders.iter().map(|&id| (id, Some("new".to_string()), Some("Bruno Barros".to_string()))));
        assert_eq!(orders(&mut observer, 2), expected, "{level}: customer 2's orders keep their values");

        // Every other erasing entry point is refused the same way, before reading anything.
        for sql in [
            "SELECT erasure.anonymize('customer', 2::bigint)",
            "SELECT erasure.anonymize('customer', 2::bigint, 'auto')",
            "SELECT erasure.anonymize_customer(999::bigint)",
            "SELECT erasure.anonymize_customer('not-a-number'::text)",
            "SELECT * FROM erasure.anonymize_many('customer', ARRAY[2]::bigint[])",
            "SELECT * FROM erasure.release_expired()",
            "SELECT * FROM erasure.replay('{}'::jsonb)",
            "SELECT * FROM erasure.replay(erasure.ledger_export())",
        ] {
            eraser.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}; SELECT 1")).unwrap();
            let e = eraser.execute(sql, &[]).expect_err(sql);
            assert_eq!(code(&e), Some("25000"), "{level}: {sql}: {}", describe(&e));
            eraser.batch_execute("ROLLBACK").unwrap();
        }
        assert_eq!(snapshot(&mut observer), before, "{level}: a refused call changed rows");

        // Reading is allowed: the preview and the blockers.
        eraser.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}; SELECT 1")).unwrap();
        let decision: Option<String> = eraser
            .query_one("SELECT erasure.erasure_preview(2::bigint) ->> 'decision'", &[])
            .unwrap_or_else(|e| panic!("{level}: erasure_preview(2): {}", describe(&e)))
            .get(0);
        assert_eq!(decision.as_deref(), Some("anonymize"), "{level}: preview of customer 2");
        let blockers: Vec<String> = eraser
            .query("SELECT blocker FROM erasure.erasure_blockers(3::bigint)", &[])
            .unwrap_or_else(|e| panic!("{level}: erasure_blockers(3): {}", describe(&e)))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(blockers, vec!["order_awaiting_payment".to_string()], "{level}: blockers of customer 3");
        eraser.batch_execute("COMMIT").unwrap();
        assert_eq!(snapshot(&mut observer), before, "{level}: the preview changed rows");
    }

    // READ COMMITTED: the transaction begins, another order commits, the erasure sees it.
    eraser.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT 1").unwrap();
    new_orders.push(new_order(&mut writer));
    let report = anonymize(&mut eraser, 2)
        .unwrap_or_else(|e| panic!("erasure of customer 2 at READ COMMITTED: {}", describe(&e)));
    assert_eq!(report.status, "anonymized", "report: {}", report.text);
    assert_eq!(report_rows(&report, "shop.orders"), 1 + new_orders.len() as i64, "report: {}", report.text);
    eraser.batch_execute("COMMIT").unwrap();

    assert_eq!(customer(&mut observer, 2), ("Xxxx".into(), "erased-2@invalid.example".into()));
    let mut expected = vec![(201, Some("shipped".to_string()), Some("Unknown customer".to_string()))];
    expected.extend(new_orders.iter().map(|&id| (id, Some("new".to_string()), Some("Unknown customer".to_string()))));
    assert_eq!(orders(&mut observer, 2), expected, "every order of customer 2 is masked, the new ones too");
    assert_eq!(ledger(&mut observer, "customer"), vec![("2".to_string(), "anonymized".to_string())]);
}

// ---------------------------------------------------------------------------------------------
// 2. Blockers decided under the erasure's locks.
// ---------------------------------------------------------------------------------------------

/// Customer 1's order 102 is delivered: nothing blocks its erasure. Another session locks that
/// order; the erasure locks customer 1's row, then waits for the order. Meanwhile that session
/// sets the order to awaiting payment and commits: the erasure, which runs the blockers only
/// once it holds every row, is refused with 55000 (order_awaiting_payment) and changes nothing.
#[test]
fn blockers_run_after_the_rows_are_locked() {
    let db = TestDb::create("race_blocker");
    let mut observer = db.connect();
    let mut eraser = db.connect();
    let mut app = db.connect();
    let (eraser_pid, app_pid) = (backend_pid(&mut eraser), backend_pid(&mut app));

    assert_eq!(erasure_blocker_names(&mut observer, 1), Vec::<String>::new(), "nothing blocks customer 1 yet");
    let orders_before = orders(&mut observer, 1);
    assert_eq!(
        orders_before,
        vec![
            (101, Some("shipped".into()), Some("Alice Almeida".into())),
            (102, Some("delivered".into()), Some("Alice A.".into())),
        ]
    );

    app.batch_execute("BEGIN").unwrap();
    let locked = app.query("SELECT id FROM shop.orders WHERE id = 102 FOR UPDATE", &[]).unwrap();
    assert_eq!(locked.len(), 1, "order 102 of customer 1 should exist");

    // Well above the time the lock is held: the erasure waits rather than times out.
    eraser.batch_execute("SET erasure.lock_timeout = '20s'").unwrap();
    let mut erasure = spawn("erasure of customer 1", move || anonymize(&mut eraser, 1));
    let waits = wait_for_lock(&mut observer, &mut erasure, eraser_pid, app_pid);
    assert!(
        waits.iter().any(|(locktype, _, _)| locktype == "transactionid" || locktype == "tuple"),
        "the erasure should wait for a row lock: {waits:?}"
    );
    // It has locked customer 1's row already, before reaching the orders.
    let e = observer
        .execute("SELECT id FROM shop.customers WHERE id = 1 FOR UPDATE NOWAIT", &[])
        .expect_err("customer 1's row should be locked by the waiting erasure");
    assert_eq!(code(&e), Some("55P03"), "{}", describe(&e));

    app.batch_execute("UPDATE shop.orders SET status = 'awaiting_payment' WHERE id = 102; COMMIT").unwrap();
    let error =
        erasure.finish(DEADLINE).0.expect_err("the order now awaiting payment must block the erasure of customer 1");
    assert_eq!(code(&error), Some("55000"), "got {}", describe(&error));
    let db_error = error.as_db_error().unwrap();
    assert!(
        db_error.message().contains("customer \"1\""),
        "the message should name the customer: {}",
        describe(&error)
    );
    assert!(
        db_error.detail().unwrap_or_default().contains("order_awaiting_payment"),
        "the detail should name the blocker: {}",
        describe(&error)
    );

    assert_eq!(customer(&mut observer, 1), ("Alice Almeida".into(), "alice@example.com".into()));
    assert_eq!(
        orders(&mut observer, 1),
        vec![
            (101, Some("shipped".into()), Some("Alice Almeida".into())),
            (102, Some("awaiting_payment".into()), Some("Alice A.".into())),
        ],
        "only the other session's status change is there"
    );
    assert_eq!(ledger(&mut observer, "customer"), vec![], "a refused erasure is not recorded");
    assert_eq!(erasure_blocker_names(&mut observer, 1), vec!["order_awaiting_payment".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// 3. Registration vs DROP TABLE.
// ---------------------------------------------------------------------------------------------

/// A session drops an unregistered table referencing the customers, without committing yet;
/// another registers that table: it resolves the name, then waits for the table's lock. Once
/// the drop commits, the registration fails cleanly with 42P01 and registers nothing.
#[test]
fn registration_of_a_table_being_dropped_fails_with_undefined_table() {
    let db = TestDb::create("race_drop");
    let mut observer = db.connect();
    let mut dropper = db.connect();
    let mut registrar = db.connect();
    let (registrar_pid, dropper_pid) = (backend_pid(&mut registrar), backend_pid(&mut dropper));

    observer
        .batch_execute(
            "CREATE TABLE shop.wishlists (id bigserial PRIMARY KEY,
                                          customer_id bigint NOT NULL REFERENCES shop.customers,
                                          item text);
             INSERT INTO shop.wishlists (customer_id, item) VALUES (1, 'a book'), (2, 'a lamp');",
        )
        .unwrap();
    let oid: u32 = observer.query_one("SELECT 'shop.wishlists'::regclass::oid", &[]).unwrap().get(0);
    let catalog_before = registered_tables(&mut observer);

    dropper.batch_execute("BEGIN; DROP TABLE shop.wishlists").unwrap();
    let mut registration = spawn("register_table of shop.wishlists", move || {
        registrar.execute("SELECT erasure.register_table('customer', 'shop.wishlists')", &[]).map(|_| ())
    });
    let waits = wait_for_lock(&mut observer, &mut registration, registrar_pid, dropper_pid);
    assert!(
        waits.iter().any(|(locktype, relation, _)| locktype == "relation" && *relation == Some(oid)),
        "the registration should wait for the lock of shop.wishlists (oid {oid}): {waits:?}"
    );

    dropper.batch_execute("COMMIT").unwrap();
    let error = registration.finish(DEADLINE).0.expect_err("the table was dropped: the registration must fail");
    assert_ne!(code(&error), Some("XX000"), "an internal error instead of a clean one: {}", describe(&error));
    assert_eq!(code(&error), Some("42P01"), "got {}", describe(&error));

    let rows: i64 =
        observer.query_one("SELECT count(*) FROM erasure.tables WHERE tbl::oid = $1", &[&oid]).unwrap().get(0);
    assert_eq!(rows, 0, "erasure.tables must have no row for the dropped table");
    let policies: i64 =
        observer.query_one("SELECT count(*) FROM erasure.column_policies WHERE tbl::oid = $1", &[&oid]).unwrap().get(0);
    assert_eq!(policies, 0);
    assert_eq!(registered_tables(&mut observer), catalog_before, "the catalog is as it was");
    // The catalog still erases.
    let report = anonymize(&mut observer, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
    assert_eq!(report.status, "anonymized", "report: {}", report.text);
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrent registrations of one subject are serialized.
// ---------------------------------------------------------------------------------------------

/// The shop plus shop.order_items referencing shop.orders. billing.invoices' foreign key to
/// the orders is dropped, so that orders may be registered as delete at all (a retained table
/// referencing a deleted one is refused on its own). One item, on customer 2's order.
fn registration_db(name: &str) -> TestDb {
    let db = TestDb::create(name);
    db.connect()
        .batch_execute(
            "ALTER TABLE billing.invoices DROP CONSTRAINT invoices_order_id_fkey;
             CREATE TABLE shop.order_items (id bigserial PRIMARY KEY,
                                            order_id bigint NOT NULL REFERENCES shop.orders,
                                            note text);
             INSERT INTO shop.order_items (order_id, note) VALUES (201, 'gift wrap for Bruno');",
        )
        .unwrap_or_else(|e| panic!("order_items in {name}: {}", describe(&e)));
    db
}

/// Runs `first` in a transaction of session 1, then `second` in a thread (session 2), which
/// must wait for session 1's registration lock; commits session 1 and returns what `second`
/// ended with.
fn register_concurrently(db: &TestDb, first: &str, second: &str) -> Result<(), postgres::Error> {
    let mut observer = db.connect();
    let mut one = db.connect();
    let mut two = db.connect();
    let (one_pid, two_pid) = (backend_pid(&mut one), backend_pid(&mut two));
    one.batch_execute("BEGIN").unwrap();
    one.execute(first, &[]).unwrap_or_else(|e| panic!("{first}: {}", describe(&e)));
    let second_sql = second.to_string();
    let mut pending = spawn(second, move || two.execute(second_sql.as_str(), &[]).map(|_| ()));
    let waits = wait_for_lock(&mut observer, &mut pending, two_pid, one_pid);
    assert!(
        waits.iter().any(|(locktype, _, _)| locktype == "advisory" || locktype == "relation"),
        "{second} should wait for the registration lock: {waits:?}"
    );
    one.batch_execute("COMMIT").unwrap();
    pending.finish(DEADLINE).0
}

/// Session 1 re-registers shop.orders as delete (not committed); session 2 registers
/// shop.order_items, which references the orders, as mask under shop.orders: it waits for the
/// per-subject lock, then sees the orders as deleted and is refused with 42830. And the
/// reverse: order_items registered as mask first, orders re-registered as delete second,
/// refused the same way. Either way the catalog left behind erases a customer.
#[test]
fn registrations_of_one_subject_are_serialized() {
    // Orders as delete first, then order_items masked under them.
    {
        let db = registration_db("race_register_a");
        let result = register_concurrently(
            &db,
            "SELECT erasure.register_table('customer', 'shop.orders', 'delete')",
            "SELECT erasure.register_table('customer', 'shop.order_items', 'mask', parent => 'shop.orders')",
        );
        let error = result.expect_err("a masked table referencing a deleted one must be refused");
        assert_eq!(code(&error), Some("42830"), "got {}", describe(&error));
        assert!(
            error.as_db_error().unwrap().message().contains("references deleted table"),
            "got {}",
            describe(&error)
        );

        let mut observer = db.connect();
        assert_eq!(
            registered_tables(&mut observer),
            vec![
                ("billing.invoices".to_string(), "retain".to_string(), "shop.customers".to_string()),
                ("shop.orders".to_string(), "delete".to_string(), "shop.customers".to_string()),
            ],
            "orders are registered as delete, order_items not at all"
        );
        let report = anonymize(&mut observer, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
        assert_eq!(report.status, "anonymized", "report: {}", report.text);
        assert_eq!(orders(&mut observer, 1), vec![], "customer 1's orders are deleted");
        assert_eq!(customer(&mut observer, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
        let items: i64 = observer.query_one("SELECT count(*) FROM shop.order_items", &[]).unwrap().get(0);
        assert_eq!(items, 1, "customer 2's order item is untouched");
    }

    // The reverse: order_items masked under the orders first, then orders as delete.
    {
        let db = registration_db("race_register_b");
        let result = register_concurrently(
            &db,
            "SELECT erasure.register_table('customer', 'shop.order_items', 'mask', parent => 'shop.orders')",
            "SELECT erasure.register_table('customer', 'shop.orders', 'delete')",
        );
        let error = result.expect_err("deleting a table a masked table references must be refused");
        assert_eq!(code(&error), Some("42830"), "got {}", describe(&error));
        assert!(
            error.as_db_error().unwrap().message().contains("references deleted table"),
            "got {}",
            describe(&error)
        );

        let mut observer = db.connect();
        assert_eq!(
            registered_tables(&mut observer),
            vec![
                ("billing.invoices".to_string(), "retain".to_string(), "shop.customers".to_string()),
                ("shop.order_items".to_string(), "mask".to_string(), "shop.orders".to_string()),
                ("shop.orders".to_string(), "mask".to_string(), "shop.customers".to_string()),
            ],
            "orders stay masked, order_items is registered under them"
        );
        let report = anonymize(&mut observer, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
        assert_eq!(report.status, "anonymized", "report: {}", report.text);
        assert_eq!(
            orders(&mut observer, 1),
            vec![
                (101, Some("shipped".into()), Some("Unknown customer".into())),
                (102, Some("delivered".into()), Some("Unknown customer".into())),
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. process_requests never stalls.
// ---------------------------------------------------------------------------------------------

/// One run of process_requests() over: three good requests (customers 1, 4, 5), one whose
/// customer (6) the application deleted meanwhile, one whose blocker fails for that customer
/// only (2: division by zero), and one queued with a key bigint does not accept. Each gets its
/// line (done, not_found, error with its SQLSTATE) and its state in erasure.requests; the
/// second run retries only the two failing ones.
#[test]
fn process_requests_records_each_failure_and_goes_on() {
    let db = TestDb::create("race_requests");
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO shop.customers (id, name, email) VALUES
             (4, 'Dora Dias', 'dora@example.com'),
             (5, 'Edu Esteves', 'edu@example.com'),
             (6, 'Fabi Freitas', 'fabi@example.com');
         INSERT INTO shop.orders (id, customer_id, status, ship_name) VALUES
             (401, 4, 'delivered', 'Dora Dias'),
             (601, 6, 'delivered', 'Fabi Freitas');
         SELECT erasure.register_blocker('customer', 'fails_for_customer_2',
             $$SELECT 1 / (c.id - 2) AS boom FROM shop.customers AS c WHERE c.id = $1 AND c.id = 2$$);",
    )
    .unwrap_or_else(|e| panic!("setup: {}", describe(&e)));

    let request = |c: &mut Client, id: i64| -> i64 {
        c.query_one("SELECT erasure.request('customer', $1::bigint)", &[&id])
            .unwrap_or_else(|e| panic!("request for customer {id}: {}", describe(&e)))
            .get(0)
    };
    let r1 = request(&mut c, 1);
    let r2 = request(&mut c, 2);
    let r4 = request(&mut c, 4);
    let r6 = request(&mut c, 6);
    let bad: i64 = c
        .query_one(
            "INSERT INTO erasure.request_queue (subject, key, received_at, due_at, state, wait_until)
             VALUES ('customer', 'not-a-number', now(), now() + interval '30 days', 'approved', now()) RETURNING id",
            &[],
        )
        .unwrap_or_else(|e| panic!("direct insert into the queue (as superuser): {}", describe(&e)))
        .get(0);
    let r5 = request(&mut c, 5);
    approve_all(&mut c);
    // The application deletes customer 6 (its order first) before the run.
    c.batch_execute("DELETE FROM shop.orders WHERE customer_id = 6; DELETE FROM shop.customers WHERE id = 6").unwrap();

    type Lines = BTreeMap<i64, (String, Option<String>, String)>;
    let run = |c: &mut Client| -> Lines {
        c.query("SELECT request_id, status, detail ->> 'sqlstate', detail::text FROM erasure.process_requests()", &[])
            .unwrap_or_else(|e| panic!("process_requests(): {}", describe(&e)))
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect()
    };
    type State = (String, i32, Option<String>, Option<String>);
    let states = |c: &mut Client| -> BTreeMap<i64, State> {
        c.query("SELECT id, state, attempts, last_sqlstate, last_error FROM erasure.requests", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
            .collect()
    };

    let first = run(&mut c);
    let line = |lines: &Lines, id: i64| {
        lines.get(&id).cloned().unwrap_or_else(|| panic!("no line for request {id}: {lines:?}"))
    };
    assert_eq!(first.len(), 6, "one line per open request: {first:?}");
    for id in [r1, r4, r5] {
        assert_eq!(line(&first, id).0, "executed", "request {id}: {first:?}");
    }
    assert_eq!(line(&first, r6).0, "not_found", "request {r6} (customer 6 deleted): {first:?}");
    assert_eq!(
        (line(&first, r2).0, line(&first, r2).1),
        ("error".to_string(), Some("22012".to_string())),
        "request {r2} (blocker divides by zero): {first:?}"
    );
    assert_eq!(
        (line(&first, bad).0, line(&first, bad).1),
        ("error".to_string(), Some("22P02".to_string())),
        "request {bad} (key not-a-number): {first:?}"
    );

    let after_first = states(&mut c);
    let state = |states: &BTreeMap<i64, State>, id: i64| {
        states.get(&id).cloned().unwrap_or_else(|| panic!("request {id} missing from erasure.requests: {states:?}"))
    };
    for id in [r1, r4, r5] {
        assert_eq!(state(&after_first, id), ("executed".to_string(), 1, None, None), "request {id}");
    }
    assert_eq!(state(&after_first, r6), ("not_found".to_string(), 1, None, None), "request {r6}");
    for (id, sqlstate) in [(r2, "22012"), (bad, "22P02")] {
        let (status, attempts, last_sqlstate, last_error) = state(&after_first, id);
        assert_eq!(
            (status.as_str(), attempts, last_sqlstate.as_deref()),
            ("failing", 1, Some(sqlstate)),
            "request {id}"
        );
        assert!(last_error.is_some_and(|e| !e.is_empty()), "request {id} should record its error");
    }
    let mut erased: Vec<String> = ledger(&mut c, "customer").into_iter().map(|(key, _)| key).collect();
    erased.sort();
    assert_eq!(erased, vec!["1", "4", "5"], "the good customers are erased, once each");
    assert_eq!(customer(&mut c, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
    assert_eq!(customer(&mut c, 2), ("Bruno Barros".into(), "bruno@example.com".into()));
    let checked_at = |c: &mut Client, id: i64| -> String {
        c.query_one("SELECT checked_at::text FROM erasure.request_queue WHERE id = $1", &[&id]).unwrap().get(0)
    };
    let r6_checked = checked_at(&mut c, r6);

    let second = run(&mut c);
    assert_eq!(second.keys().copied().collect::<Vec<_>>(), vec![r2, bad], "only the failing are retried: {second:?}");
    assert_eq!(line(&second, r2).1.as_deref(), Some("22012"));
    assert_eq!(line(&second, bad).1.as_deref(), Some("22P02"));
    let after_second = states(&mut c);
    for id in [r2, bad] {
        let (status, attempts, _, _) = state(&after_second, id);
        assert_eq!((status.as_str(), attempts), ("failing", 2), "request {id}");
    }
    for id in [r1, r4, r5, r6] {
        assert_eq!(state(&after_second, id), state(&after_first, id), "request {id} is not touched again");
    }
    assert_eq!(checked_at(&mut c, r6), r6_checked, "the not_found request is not checked again");
    assert_eq!(ledger(&mut c, "customer").len(), 3, "nothing erased twice");
}

// ---------------------------------------------------------------------------------------------
// 6. Requests keyed by value.
// ---------------------------------------------------------------------------------------------

/// A subject with a numeric key: a request for 7.0 records key 7 (and 7.00 finds the same
/// open request); erasing 7 then 7.0 writes one ledger row and says already_erased the second
/// time; anonymize_many with 7.00 finds it, and erases 8.00 as 8; the request is then executed,
/// pointing at the ledger row of 7.
#[test]
fn numeric_keys_are_known_by_value() {
    let db = TestDb::create("race_numeric");
    let mut c = db.connect();
    c.batch_execute(
        "CREATE SCHEMA t;
         CREATE TABLE t.people (code numeric PRIMARY KEY, name text);
         CREATE TABLE t.visits (id bigint PRIMARY KEY, person_code numeric NOT NULL REFERENCES t.people, note text);
         CREATE INDEX ON t.visits (person_code);
         INSERT INTO t.people VALUES (7, 'Pat Seven'), (8, 'Quinn Eight');
         INSERT INTO t.visits VALUES (1, 7, 'Pat came by'), (2, 8, 'Quinn came by');
         SELECT erasure.register_subject('person', 't.people');
         SELECT erasure.register_table('person', 't.visits');
         SELECT erasure.set_policy('t.people', 'code', 'keep');
         SELECT erasure.set_policy('t.people', 'name', 'constant', '{\"value\": \"Erased\"}');
         SELECT erasure.set_policy('t.visits', 'id', 'keep');
         SELECT erasure.set_policy('t.visits', 'person_code', 'keep');
         SELECT erasure.set_policy('t.visits', 'note', 'null');",
    )
    .unwrap_or_else(|e| panic!("setup: {}", describe(&e)));

    let request: i64 = c.query_one("SELECT erasure.request('person', '7.0'::text)", &[]).unwrap().get(0);
    let key: String = c.query_one("SELECT key FROM erasure.requests WHERE id = $1", &[&request]).unwrap().get(0);
    assert_eq!(key, "7", "the request records the key as the row stores it");
    let again: i64 = c.query_one("SELECT erasure.request('person', '7.00'::text)", &[]).unwrap().get(0);
    assert_eq!(again, request, "7.00 is the same subject: the open request is returned");

    let erase = |c: &mut Client, sql: &str| -> Value {
        let text: String = c.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))).get(0);
        serde_json::from_str(&text).unwrap()
    };
    let first = erase(&mut c, "SELECT erasure.anonymize('person', 7)::text");
    assert_eq!((first["status"].as_str(), first["key"].as_str()), (Some("anonymized"), Some("7")), "{first}");
    let second = erase(&mut c, "SELECT erasure.anonymize('person', 7.0)::text");
    assert_eq!(second["status"].as_str(), Some("already_erased"), "erasing 7.0 after 7: {second}");
    assert_eq!(second["request_id"], first["request_id"], "it points at the first erasure: {second}");
    assert_eq!(ledger(&mut c, "person"), vec![("7".to_string(), "anonymized".to_string())], "one ledger row");

    let lines: Vec<(String, String)> = c
        .query("SELECT key, status FROM erasure.anonymize_many('person', ARRAY[7.00, 8.00])", &[])
        .unwrap_or_else(|e| panic!("anonymize_many: {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let status_of = |wanted: &str| {
        lines
            .iter()
            .find(|(key, _)| key.parse::<f64>().ok() == wanted.parse::<f64>().ok())
            .map(|(_, status)| status.clone())
            .unwrap_or_else(|| panic!("no line for key {wanted}: {lines:?}"))
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(status_of("7"), "already_erased", "anonymize_many finds 7 given as 7.00: {lines:?}");
    assert_eq!(status_of("8"), "anonymized", "{lines:?}");
    assert_eq!(
        ledger(&mut c, "person"),
        vec![("7".to_string(), "anonymized".to_string()), ("8".to_string(), "anonymized".to_string())],
        "8.00 is recorded as its row stores it"
    );
    let names: Vec<String> =
        c.query("SELECT name FROM t.people ORDER BY code", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(names, vec!["Erased", "Erased"]);

    // The request for 7.0 is executed by the erasure of 7.
    approve_all(&mut c);
    let lines: Vec<(i64, String)> = c
        .query("SELECT request_id, status FROM erasure.process_requests()", &[])
        .unwrap_or_else(|e| panic!("process_requests(): {}", describe(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(lines, vec![(request, "executed".to_string())]);
    let row = c.query_one("SELECT state, ledger_request_id FROM erasure.requests WHERE id = $1", &[&request]).unwrap();
    let (status, ledger_id): (String, Option<i64>) = (row.get(0), row.get(1));
    assert_eq!((status.as_str(), ledger_id), ("executed", first["request_id"].as_i64()));
    assert_eq!(ledger(&mut c, "person").len(), 2, "processing the request erased nothing again");
}

// ---------------------------------------------------------------------------------------------
// 7. Two sessions erasing the same customer.
// ---------------------------------------------------------------------------------------------

/// Session 1 erases customer 1 without committing; session 2's erasure of customer 1 waits for
/// its row; once session 1 commits, session 2 reports already_erased, pointing at session 1's
/// erasure, and the ledger has exactly one row.
#[test]
fn second_erasure_of_a_customer_waits_then_reports_already_erased() {
    let db = TestDb::create("race_same_customer");
    let mut observer = db.connect();
    let mut one = db.connect();
    let mut two = db.connect();
    let (one_pid, two_pid) = (backend_pid(&mut one), backend_pid(&mut two));

    one.batch_execute("BEGIN").unwrap();
    let first = anonymize(&mut one, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
    assert_eq!(first.status, "anonymized", "report: {}", first.text);

    two.batch_execute("SET erasure.lock_timeout = '20s'").unwrap();
    let mut second = spawn("second erasure of customer 1", move || anonymize(&mut two, 1));
    let waits = wait_for_lock(&mut observer, &mut second, two_pid, one_pid);
    assert!(
        waits.iter().any(|(locktype, _, _)| locktype == "transactionid" || locktype == "tuple"),
        "the second erasure should wait for customer 1's row: {waits:?}"
    );
    assert_eq!(ledger(&mut observer, "customer"), vec![], "session 1's erasure is not committed yet");

    one.batch_execute("COMMIT").unwrap();
    let report = second
        .finish(DEADLINE)
        .0
        .unwrap_or_else(|e| panic!("the second erasure failed instead of reporting already_erased: {}", describe(&e)));
    assert_eq!(report.status, "already_erased", "report: {}", report.text);
    let first_report: Value = serde_json::from_str(&first.text).unwrap();
    let second_report: Value = serde_json::from_str(&report.text).unwrap();
    assert_eq!(second_report["request_id"], first_report["request_id"], "report: {}", report.text);
    assert_eq!(ledger(&mut observer, "customer"), vec![("1".to_string(), "anonymized".to_string())]);
    assert_eq!(customer(&mut observer, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
}

/// Verifies and approves every received request (as the superuser the tests connect as), so
/// that the next erasure.process_requests() runs them.
fn approve_all(c: &mut Client) {
    c.batch_execute(
        "SELECT erasure.verify_request(id) FROM erasure.request_queue WHERE state = 'received';
         SELECT erasure.approve_request(id) FROM erasure.request_queue WHERE state = 'verified';",
    )
    .unwrap_or_else(|e| panic!("approving the requests: {}", describe(&e)));
}
