//! pg_erasure under concurrency, through real client sessions (the `postgres` crate): row
//! locks an erasure waits for, its lock timeout, writes that must wait for it, erasures that
//! must not wait for each other, and a refused erasure that must leave no trace.
//!
//! Needs a running cluster with pg_erasure installed; scripts/test.sh starts one and exports
//! PGHOST, PGPORT, PGUSER and PGDATABASE. Each test works in a database of its own.
//! Every wait is bounded: a hang fails the test instead of stalling the run.

mod common;

use std::time::{Duration, Instant};

use common::*;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;

/// How long a statement must stay unfinished to count as waiting.
const STILL_WAITING: Duration = Duration::from_millis(500);
/// The most any statement expected to finish may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// An erasure waits for a row of the subject that another session holds, then proceeds once
/// that session commits.
#[test]
fn erasure_waits_for_a_row_locked_by_another_session() {
    let db = TestDb::create("waits");
    let mut observer = db.connect();
    let mut a = db.connect();
    let mut b = db.connect();
    let (a_pid, b_pid) = (backend_pid(&mut a), backend_pid(&mut b));

    b.batch_execute("BEGIN").unwrap();
    let locked = b.query("SELECT id FROM shop.orders WHERE id = 101 FOR UPDATE", &[]).unwrap();
    assert_eq!(locked.len(), 1, "order 101 of customer 1 should exist");

    // Well above the time the lock is held, so the erasure waits rather than times out.
    a.batch_execute("SET erasure.lock_timeout = '20s'").unwrap();
    let mut erasure = spawn("erasure of customer 1", move || anonymize(&mut a, 1));

    wait_until_blocked(&mut observer, a_pid, b_pid, DEADLINE);
    erasure.assert_still_running(STILL_WAITING);
    // Nothing of customer 1 has changed while the erasure waits.
    assert_eq!(customer(&mut observer, 1), ("Alice Almeida".into(), "alice@example.com".into()));

    let released = Instant::now();
    b.batch_execute("COMMIT").unwrap();
    let (result, finished) = erasure.finish(DEADLINE);
    let report = result.unwrap_or_else(|e| panic!("the erasure failed once the lock was released: {}", describe(&e)));
    assert_eq!(report.status, "anonymized", "report: {}", report.text);
    assert!(report.text.contains(r#""unreviewed_columns": []"#), "every column has a policy: {}", report.text);
    assert!(finished >= released, "the erasure finished before the lock it waited for was released");

    assert_eq!(customer(&mut observer, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
    assert_eq!(
        orders(&mut observer, 1),
        vec![
            (101, Some("shipped".into()), Some("Unknown customer".into())),
            (102, Some("delivered".into()), Some("Unknown customer".into())),
        ]
    );
    let billed: String =
        observer.query_one("SELECT billed_name FROM billing.invoices WHERE id = 1", &[]).unwrap().get(0);
    assert_eq!(billed, "Alice Almeida", "retained invoices must stay unchanged");
    // Other customers are untouched.
    assert_eq!(customer(&mut observer, 2), ("Bruno Barros".into(), "bruno@example.com".into()));
}

/// With erasure.lock_timeout set, an erasure gives up on a held row with SQLSTATE 55P03
/// naming the table that waited, and changes nothing.
#[test]
fn erasure_times_out_on_a_locked_row_and_changes_nothing() {
    let db = TestDb::create("timeout");
    let mut observer = db.connect();
    let mut a = db.connect();
    let mut b = db.connect();
    let before = snapshot(&mut observer);

    b.batch_execute("BEGIN").unwrap();
    let locked = b.query("SELECT id FROM shop.orders WHERE id = 101 FOR UPDATE", &[]).unwrap();
    assert_eq!(locked.len(), 1);

    // statement_timeout only bounds the test: a timeout there (57014) is a failure too.
    a.batch_execute("SET erasure.lock_timeout = '300ms'; SET statement_timeout = '10s'").unwrap();
    let started = Instant::now();
    let error = anonymize(&mut a, 1).expect_err("the erasure should have timed out on order 101");
    let elapsed = started.elapsed();

    assert_eq!(error.code(), Some(&SqlState::LOCK_NOT_AVAILABLE), "got {}", describe(&error));
    let message = error.as_db_error().unwrap().message().to_string();
    assert!(message.contains("shop.orders"), "the message should name table shop.orders: {message}");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(5),
        "the erasure gave up after {elapsed:?}, expected about 300ms"
    );
    // erasure.lock_timeout applied to the erasure only: the session's lock_timeout is as it was.
    let lock_timeout: String = a.query_one("SHOW lock_timeout", &[]).unwrap().get(0);
    assert_eq!(lock_timeout, "0");

    // Still inside B's transaction: nothing changed, not even customer 1's own row, which the
    // erasure locked (and masks) before it reached the orders.
    assert_eq!(customer(&mut observer, 1), ("Alice Almeida".into(), "alice@example.com".into()));
    b.batch_execute("COMMIT").unwrap();
    assert_eq!(customer(&mut observer, 1), ("Alice Almeida".into(), "alice@example.com".into()));
    assert_eq!(snapshot(&mut observer), before, "the timed-out erasure changed rows");
}

/// The rows of every changed table are locked by one statement; a lock timeout still names the
/// table whose row was held, whichever place it has in the lock order, and no other.
#[test]
fn lock_timeout_names_the_table_that_waited_among_several() {
    let db = TestDb::create("timeout_tables");
    let mut setup = db.connect();
    setup
        .batch_execute(
            "CREATE TABLE shop.visits (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers,
                                       page text);
             CREATE TABLE shop.order_notes (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES shop.orders,
                                            note text);
             INSERT INTO shop.visits (customer_id, page) VALUES (1, '/'), (1, '/cart');
             INSERT INTO shop.order_notes (order_id, note) VALUES (101, 'ring twice'), (102, 'leave at the door');
             SELECT erasure.register_table('customer', 'shop.visits', 'delete');
             SELECT erasure.register_table('customer', 'shop.order_notes', parent => 'shop.orders');
             SELECT erasure.set_policy('shop.order_notes', 'note', 'null');",
        )
        .unwrap();
    let mut observer = db.connect();
    let before = snapshot(&mut observer);
    // Lock order: shop.orders and shop.visits (by name), then shop.order_notes (their child).
    for (held, table) in [
        ("SELECT FROM shop.order_notes WHERE order_id = 102 FOR UPDATE", "shop.order_notes"),
        ("SELECT FROM shop.visits WHERE page = '/cart' FOR UPDATE", "shop.visits"),
        ("SELECT FROM shop.orders WHERE id = 102 FOR UPDATE", "shop.orders"),
    ] {
        let mut holder = db.connect();
        holder.batch_execute("BEGIN").unwrap();
        holder.batch_execute(held).unwrap();
        let mut eraser = db.connect();
        eraser.batch_execute("SET erasure.lock_timeout = '200ms'; SET statement_timeout = '10s'").unwrap();
        let error = anonymize(&mut eraser, 1).expect_err("the erasure should have timed out");
        assert_eq!(error.code(), Some(&SqlState::LOCK_NOT_AVAILABLE), "got {}", describe(&error));
        let message = error.as_db_error().unwrap().message().to_string();
        assert!(
            message.ends_with(&format!("in table \"{table}\"")),
            "holding a row of {table}, the message should name it alone: {message}"
        );
        holder.batch_execute("ROLLBACK").unwrap();
    }
    assert_eq!(snapshot(&mut observer), before, "the timed-out erasures changed rows");
    // Nothing held: the erasure goes through, every table's rows changed.
    let mut eraser = db.connect();
    assert_eq!(anonymize(&mut eraser, 1).unwrap().status, "anonymized");
    let left: i64 = observer
        .query_one(
            "SELECT (SELECT count(*) FROM shop.visits WHERE customer_id = 1)
                  + (SELECT count(*) FROM shop.order_notes WHERE order_id IN (101, 102) AND note IS NOT NULL)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// An order inserted for a customer being erased waits until the erasure commits (its
/// foreign key check needs the customer's row, which the erasure holds), then succeeds: the
/// erasure masks the customer, it does not delete it.
#[test]
fn insert_of_an_order_for_a_customer_being_erased_waits_for_the_commit() {
    let db = TestDb::create("insert_waits");
    let mut observer = db.connect();
    let mut a = db.connect();
    let mut b = db.connect();
    let (a_pid, b_pid) = (backend_pid(&mut a), backend_pid(&mut b));

    a.batch_execute("BEGIN").unwrap();
    let report = anonymize(&mut a, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
    assert_eq!(report.status, "anonymized", "report: {}", report.text);

    let mut insert = spawn("insert of an order for customer 1", move || {
        b.query_one(
            "INSERT INTO shop.orders (customer_id, status, ship_name)
             VALUES (1, 'new', 'Alice Almeida') RETURNING id",
            &[],
        )
        .map(|row| row.get::<_, i64>(0))
    });

    wait_until_blocked(&mut observer, b_pid, a_pid, DEADLINE);
    insert.assert_still_running(STILL_WAITING);

    let committing = Instant::now();
    a.batch_execute("COMMIT").unwrap();
    let (result, inserted_at) = insert.finish(DEADLINE);
    let id = result.unwrap_or_else(|e| panic!("the insert failed after the erasure committed: {}", describe(&e)));
    assert!(inserted_at >= committing, "the insert finished before the erasure committed");

    assert_eq!(customer(&mut observer, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
    // The order inserted after the erasure is NOT masked: the erasure masked the orders that
    // existed when it ran, and this one was written after it committed. That is the expected
    // ordering (an erasure is a point in time, not a standing rule); erasing again would mask
    // it. The erased customer's earlier orders are masked.
    assert_eq!(id, 1000);
    assert_eq!(
        orders(&mut observer, 1),
        vec![
            (101, Some("shipped".into()), Some("Unknown customer".into())),
            (102, Some("delivered".into()), Some("Unknown customer".into())),
            (1000, Some("new".into()), Some("Alice Almeida".into())),
        ]
    );
}

/// Erasures of two customers that share no rows do not wait for each other: the second
/// completes while the first is still open.
#[test]
fn erasures_of_unrelated_customers_run_concurrently() {
    let db = TestDb::create("concurrent");
    let mut observer = db.connect();
    let mut a = db.connect();
    let mut b = db.connect();

    a.batch_execute("BEGIN").unwrap();
    let first = anonymize(&mut a, 1).unwrap_or_else(|e| panic!("erasure of customer 1: {}", describe(&e)));
    assert_eq!(first.status, "anonymized", "report: {}", first.text);

    // A lock wait would end in a statement timeout (57014) or the deadline below, both failures.
    b.batch_execute("SET statement_timeout = '5s'").unwrap();
    let second = spawn("erasure of customer 2", move || anonymize(&mut b, 2));
    let (result, second_done) = second.finish(Duration::from_secs(5));
    let report =
        result.unwrap_or_else(|e| panic!("erasure of customer 2 while customer 1's is open: {}", describe(&e)));
    assert_eq!(report.status, "anonymized", "report: {}", report.text);

    // Customer 2's erasure is committed while customer 1's is still open (and invisible).
    assert_eq!(customer(&mut observer, 2), ("Xxxx".into(), "erased-2@invalid.example".into()));
    assert_eq!(orders(&mut observer, 2), vec![(201, Some("shipped".into()), Some("Unknown customer".into()))]);
    assert_eq!(customer(&mut observer, 1), ("Alice Almeida".into(), "alice@example.com".into()));

    let first_committed = Instant::now();
    a.batch_execute("COMMIT").unwrap();
    assert!(second_done < first_committed, "the second erasure finished only after the first committed");
    assert_eq!(customer(&mut observer, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
    // The customer nobody erased is untouched.
    assert_eq!(customer(&mut observer, 3), ("Carla Costa".into(), "carla@example.com".into()));
}

/// An erasure refused by a blocker (an order awaiting payment) fails with SQLSTATE 55000 and
/// leaves every row of every table exactly as it was.
#[test]
fn blocked_erasure_changes_nothing() {
    let db = TestDb::create("blocked");
    let mut observer = db.connect();
    let mut a = db.connect();

    let blockers: Vec<String> = observer
        .query("SELECT blocker FROM erasure.erasure_blockers(3::bigint)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(blockers, vec!["order_awaiting_payment".to_string()]);

    let before = snapshot(&mut observer);
    assert!(before.len() >= 11, "the snapshot should hold the shop's rows: {before:?}");

    let error = anonymize(&mut a, 3).expect_err("customer 3 has an order awaiting payment");
    assert_eq!(error.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE), "got {}", describe(&error));
    let message = error.as_db_error().unwrap().message().to_string();
    assert!(message.contains("customer \"3\""), "the message should name the customer: {message}");

    let after = snapshot(&mut observer);
    assert_eq!(after, before, "the refused erasure changed rows");
    assert_eq!(customer(&mut observer, 3), ("Carla Costa".into(), "carla@example.com".into()));
}

/// Other systems are told of an erasure on channel `erasure` only once it commits: a rolled
/// back erasure notifies nothing, a committed one notifies its subject, key and request id.
#[test]
fn erasure_is_notified_only_on_commit() {
    let db = TestDb::create("notify");
    let mut listener = db.connect();
    let mut a = db.connect();
    listener.batch_execute("LISTEN erasure").unwrap();

    a.batch_execute("BEGIN").unwrap();
    anonymize(&mut a, 1).unwrap_or_else(|e| panic!("erasure failed: {}", describe(&e)));
    a.batch_execute("ROLLBACK").unwrap();
    let heard: Vec<String> = listener
        .notifications()
        .timeout_iter(STILL_WAITING)
        .iterator()
        .map(|n| n.map(|n| n.payload().to_string()).unwrap())
        .collect();
    assert!(heard.is_empty(), "a rolled back erasure was notified: {heard:?}");

    let report = anonymize(&mut a, 1).unwrap_or_else(|e| panic!("erasure failed: {}", describe(&e)));
    let notification = listener
        .notifications()
        .timeout_iter(DEADLINE)
        .iterator()
        .next()
        .expect("a committed erasure is notified")
        .unwrap();
    assert_eq!(notification.channel(), "erasure");
    let payload = notification.payload();
    for expected in [r#""subject":"customer""#, r#""key":"1""#, r#""status":"anonymized""#] {
        assert!(payload.contains(expected), "payload {payload} lacks {expected}");
    }
    assert!(
        report.text.contains(&format!(r#""request_id": {}"#, request_id(payload))),
        "report {} vs payload {payload}",
        report.text
    );
}

fn request_id(payload: &str) -> String {
    let start = payload.find(r#""request_id":"#).expect("payload has a request_id") + r#""request_id":"#.len();
    payload[start..].chars().take_while(char::is_ascii_digit).collect()
}

/// `erase_batches` killed between batches and run again erases every candidate exactly once:
/// the committed batches stay erased, the rerun takes only what is left, and the ledger has
/// one row per candidate.
#[test]
fn erase_batches_interrupted_then_rerun_erases_each_candidate_once() {
    let db = TestDb::create("batches");
    let mut observer = db.connect();
    // 300 candidates; a blocker that finds nothing but takes 5 ms per subject stretches each
    // batch of 50 to a quarter of a second, long enough to be interrupted between batches.
    observer
        .batch_execute(
            "INSERT INTO shop.customers SELECT g, 'Name ' || g, 'n' || g || '@example.com'
               FROM generate_series(100, 399) g;
             SELECT erasure.register_blocker('customer', 'slow',
               $$SELECT FROM pg_catalog.pg_sleep(0.005) WHERE $1 IS NULL$$);
             SELECT erasure.register_batch_rule('customer', 'from',
               'SELECT id FROM shop.customers WHERE id >= $1', parameter => 'bigint');",
        )
        .unwrap();
    const RUN: &str = "CALL erasure.erase_batches('customer', 'from', '100', 50)";
    let erased = |client: &mut postgres::Client| -> (i64, i64) {
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT key) FROM erasure.ledger WHERE subject = 'customer' AND key::bigint >= 100",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };

    let mut a = db.connect();
    let a_pid = backend_pid(&mut a);
    let run = spawn("first erase_batches", move || a.batch_execute(RUN));
    let deadline = Instant::now() + DEADLINE;
    while erased(&mut observer).0 < 50 {
        assert!(Instant::now() < deadline, "the first batch was not committed in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed: bool = observer.query_one("SELECT pg_terminate_backend($1)", &[&a_pid]).unwrap().get(0);
    assert!(killed);
    let (result, _) = run.finish(DEADLINE);
    assert!(result.is_err(), "the killed run should have failed");
    let (interrupted, _) = erased(&mut observer);
    assert!((50..300).contains(&interrupted), "the kill should land part-way, after {interrupted} erasures");
    assert_eq!(interrupted % 50, 0, "only whole batches are committed: {interrupted}");

    let mut b = db.connect();
    b.batch_execute(RUN).unwrap();
    assert_eq!(erased(&mut observer), (300, 300), "each candidate erased exactly once");
    // Mode auto: with nothing to keep, every candidate was deleted.
    let left: i64 = observer.query_one("SELECT count(*) FROM shop.customers WHERE id >= 100", &[]).unwrap().get(0);
    assert_eq!(left, 0);
    let statuses: Vec<String> = observer
        .query("SELECT DISTINCT status FROM erasure.ledger WHERE key::bigint >= 100", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, vec!["deleted".to_string()]);
}

/// The nightly job of the README, run by pg_cron: a request recorded with erasure.request(),
/// verified and approved, is processed by the scheduled erasure.process_requests() and shows as
/// executed. pg_cron 1.4
/// runs jobs at minute boundaries, so this waits up to about a minute.
#[test]
fn process_requests_runs_under_pg_cron() {
    let db = TestDb::create("cron");
    let mut cron = connect_to("postgres");
    cron.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_cron").unwrap_or_else(|e| {
        panic!("pg_cron must be preloaded in the test cluster (scripts/test.sh does it): {}", describe(&e))
    });
    let mut shop = db.connect();
    let request: i64 = shop.query_one("SELECT erasure.request('customer', 1, 'TICKET-9')", &[]).unwrap().get(0);
    shop.execute("SELECT erasure.verify_request($1), erasure.approve_request($1)", &[&request]).unwrap();
    let job: i64 = cron
        .query_one(
            "SELECT cron.schedule_in_database('pg_erasure-test', '* * * * *',
                                              'SELECT count(*) FROM erasure.process_requests()', $1)",
            &[&db.name],
        )
        .unwrap()
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(150);
    let status = loop {
        let status: String =
            shop.query_one("SELECT state FROM erasure.requests WHERE id = $1", &[&request]).unwrap().get(0);
        if status == "executed" || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    cron.execute("SELECT cron.unschedule($1::bigint)", &[&job]).unwrap();
    assert_eq!(status, "executed", "the scheduled process_requests() should have erased customer 1");
    // pg_cron records a run's outcome only after the job's transaction has committed, so the
    // request can read "executed" while job_run_details still says "running": wait for the record.
    let recorded_by = Instant::now() + Duration::from_secs(30);
    let runs = loop {
        let runs: Vec<String> = cron
            .query("SELECT status FROM cron.job_run_details WHERE jobid = $1", &[&job])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if runs.iter().any(|s| s == "succeeded") || Instant::now() > recorded_by {
            break runs;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(runs.iter().any(|s| s == "succeeded"), "pg_cron runs: {runs:?}");
    assert_eq!(customer(&mut shop, 1), ("Xxxx".into(), "erased-1@invalid.example".into()));
}

/// A session keeps the catalog queries a plan is built from, parsed once: they must follow the
/// schema they read. In one session, an erasure; a new column (which the next erasure reports
/// unreviewed); then the extension dropped and created again with the same registrations
/// (new catalog tables under the same names), and an erasure and `check()` still right.
#[test]
fn one_session_follows_schema_changes_and_a_recreated_extension() {
    let db = TestDb::create("recreated");
    let mut a = db.connect();

    let first = anonymize(&mut a, 1).unwrap_or_else(|e| panic!("first erasure: {}", describe(&e)));
    assert_eq!(first.status, "anonymized", "report: {}", first.text);
    assert!(first.text.contains(r#""unreviewed_columns": []"#), "report: {}", first.text);

    a.batch_execute("ALTER TABLE shop.customers ADD COLUMN phone text").unwrap();
    let second = anonymize(&mut a, 2).unwrap_or_else(|e| panic!("erasure after ALTER TABLE: {}", describe(&e)));
    assert!(
        second.text.contains(r#""unreviewed_columns": ["shop.customers.phone"]"#),
        "the new column should be reported unreviewed: {}",
        second.text
    );

    let registrations = &SHOP[SHOP.find("SELECT erasure.register_subject").expect("SHOP registers the subject")..];
    a.batch_execute("DROP EXTENSION pg_erasure").unwrap();
    a.batch_execute(&format!("CREATE EXTENSION pg_erasure; {registrations}"))
        .unwrap_or_else(|e| panic!("registering again in the same session: {}", describe(&e)));
    a.batch_execute("SELECT erasure.set_policy('shop.customers', 'phone', 'null')").unwrap();
    a.batch_execute("UPDATE shop.orders SET status = 'delivered' WHERE id = 301").unwrap();
    let third = anonymize(&mut a, 3).unwrap_or_else(|e| panic!("erasure after CREATE EXTENSION: {}", describe(&e)));
    assert_eq!(third.status, "anonymized", "report: {}", third.text);
    assert!(third.text.contains(r#""unreviewed_columns": []"#), "report: {}", third.text);
    assert_eq!(customer(&mut a, 3), ("Xxxx".into(), "erased-3@invalid.example".into()));
    let errors: i64 = a
        .query_one("SELECT count(*) FROM erasure.check() WHERE severity = 'error'", &[])
        .unwrap_or_else(|e| panic!("check() after CREATE EXTENSION: {}", describe(&e)))
        .get(0);
    assert_eq!(errors, 0, "check() should find the registrations whole");
}
