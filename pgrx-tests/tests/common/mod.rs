//! Shared by the multi-session tests: connecting to the cluster that scripts/cluster.sh started,
//! a fresh database per test holding a small shop registered with pg_erasure, and bounded
//! waits on statements running in other threads (a hang fails the test, it never stalls CI).

#![allow(dead_code)]

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use postgres::{Client, Config, NoTls};

/// Every statement of every session gives up after this long, whatever a test does: a
/// statement stuck on a lock becomes an error instead of a stuck test run.
const SAFETY_STATEMENT_TIMEOUT: &str = "30s";

fn env_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set. These tests need a running PostgreSQL 15 cluster with pg_erasure \
             installed: run `bash scripts/test.sh`, or `source scripts/cluster.sh; cluster_start` \
             first (it exports PGHOST, PGPORT, PGUSER and PGDATABASE)."
        ),
    }
}

/// Connection settings from PGHOST (a unix socket directory or a host name), PGPORT, PGUSER
/// and PGDATABASE.
pub fn config(dbname: &str) -> Config {
    let host = env_var("PGHOST");
    let port = env_var("PGPORT");
    let port: u16 = port.parse().unwrap_or_else(|_| panic!("PGPORT is not a port number: {port:?}"));
    let mut config = Config::new();
    if host.starts_with('/') {
        config.host_path(&host);
    } else {
        config.host(&host);
    }
    config
        .port(port)
        .user(&env_var("PGUSER"))
        .dbname(dbname)
        .application_name("pg_erasure_session_tests")
        .connect_timeout(Duration::from_secs(10))
        .options(&format!("-c statement_timeout={SAFETY_STATEMENT_TIMEOUT}"));
    config
}

pub fn connect_to(dbname: &str) -> Client {
    config(dbname)
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to database {dbname:?} (PGHOST={:?}): {e}", env_var("PGHOST")))
}

/// A database of its own for one test, created with the shop schema and its erasure catalog,
/// and dropped (best effort, closing leftover sessions) when the test ends, even on failure.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn create(test: &str) -> TestDb {
        let db = TestDb::empty(test);
        db.connect()
            .batch_execute(SHOP)
            .unwrap_or_else(|e| panic!("cannot set up the shop in {}: {}", db.name, describe(&e)));
        db
    }

    /// An empty database of its own (to restore a dump into), dropped like the others.
    pub fn empty(test: &str) -> TestDb {
        let name = format!("pg_erasure_t_{test}");
        let mut admin = connect_to(&env_var("PGDATABASE"));
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap_or_else(|e| panic!("cannot drop a leftover database {name}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        TestDb { name }
    }

    /// A new session on the test's database.
    pub fn connect(&self) -> Client {
        connect_to(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = config(&env_var("PGDATABASE")).connect(NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The shop: customers, their orders (masked) and invoices (retained), registered with
/// pg_erasure; customer 3 has an order awaiting payment, which blocks its erasure.
/// Orders 1xx belong to customer 1, 2xx to customer 2, 3xx to customer 3; new orders get
/// ids from 1000 up.
pub const SHOP: &str = r#"
CREATE EXTENSION pg_erasure;
CREATE SCHEMA shop;
CREATE SCHEMA billing;

CREATE TABLE shop.customers (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    email text UNIQUE NOT NULL
);
CREATE TABLE shop.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    status text,
    ship_name text
);
CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    order_id bigint REFERENCES shop.orders,
    billed_name text NOT NULL,
    total numeric(10, 2) NOT NULL
);

INSERT INTO shop.customers (id, name, email) VALUES
    (1, 'Alice Almeida', 'alice@example.com'),
    (2, 'Bruno Barros', 'bruno@example.com'),
    (3, 'Carla Costa', 'carla@example.com');
INSERT INTO shop.orders (id, customer_id, status, ship_name) VALUES
    (101, 1, 'shipped', 'Alice Almeida'),
    (102, 1, 'delivered', 'Alice A.'),
    (201, 2, 'shipped', 'Bruno Barros'),
    (301, 3, 'awaiting_payment', 'Carla Costa'),
    (302, 3, 'delivered', 'Carla Costa');
SELECT setval('shop.orders_id_seq', 1000, false);
INSERT INTO billing.invoices (id, customer_id, order_id, billed_name, total) VALUES
    (1, 1, 101, 'Alice Almeida', 59.90),
    (2, 2, 201, 'Bruno Barros', 12.00),
    (3, 3, 302, 'Carla Costa', 7.50);

SELECT erasure.register_subject('customer', 'shop.customers');
SELECT erasure.register_table('customer', 'shop.orders');
SELECT erasure.register_table('customer', 'billing.invoices', 'retain',
                              reason => 'bookkeeping law: invoices are kept unchanged');
SELECT erasure.set_policy('shop.customers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.customers', 'email', 'placeholder',
                          '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('shop.orders', 'ship_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('shop.orders', 'id', 'keep');
SELECT erasure.set_policy('shop.orders', 'status', 'keep');
SELECT erasure.register_blocker('customer', 'order_awaiting_payment',
    $$SELECT o.id, o.status FROM shop.orders AS o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$,
    'an order is awaiting payment');
"#;

/// What an erasure returned: the report's status and the whole report as text.
#[derive(Debug)]
pub struct Report {
    pub status: String,
    pub text: String,
}

/// `SELECT erasure.anonymize_customer(id)`.
pub fn anonymize(client: &mut Client, id: i64) -> Result<Report, postgres::Error> {
    let row =
        client.query_one("SELECT r ->> 'status', r::text FROM erasure.anonymize_customer($1::bigint) AS r", &[&id])?;
    Ok(Report { status: row.get(0), text: row.get(1) })
}

/// An error with its SQLSTATE, message, detail and hint, for assertion messages.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} {}: {} (detail: {:?}, hint: {:?})",
            db.severity(),
            db.code().code(),
            db.message(),
            db.detail(),
            db.hint()
        ),
        None => e.to_string(),
    }
}

pub fn backend_pid(client: &mut Client) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).expect("pg_backend_pid()").get(0)
}

/// Name and e-mail of a customer, as the given session sees them.
pub fn customer(client: &mut Client, id: i64) -> (String, String) {
    let row = client
        .query_one("SELECT name, email FROM shop.customers WHERE id = $1", &[&id])
        .unwrap_or_else(|e| panic!("customer {id}: {}", describe(&e)));
    (row.get(0), row.get(1))
}

/// (id, status, ship_name) of a customer's orders, by id.
pub fn orders(client: &mut Client, customer_id: i64) -> Vec<(i64, Option<String>, Option<String>)> {
    client
        .query("SELECT id, status, ship_name FROM shop.orders WHERE customer_id = $1 ORDER BY id", &[&customer_id])
        .expect("orders")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Every row of every table of the shop and of the erasure catalog, with its physical
/// identity (ctid) and inserting transaction (xmin): any UPDATE, DELETE or INSERT, even one
/// writing identical values, changes it. (xmax is left out on purpose: taking a row lock
/// with SELECT ... FOR UPDATE records the locker there without changing the row.)
pub fn snapshot(client: &mut Client) -> Vec<(String, String, String, String)> {
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('shop', 'billing', 'erasure')
              ORDER BY 1",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        tables.iter().any(|t| t == "shop.customers") && tables.iter().any(|t| t == "billing.invoices"),
        "snapshot found no shop tables: {tables:?}"
    );
    let mut rows = Vec::new();
    for table in tables {
        let sql = format!("SELECT ctid::text, xmin::text, to_jsonb(t)::text FROM {table} AS t ORDER BY ctid");
        for r in client.query(sql.as_str(), &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))) {
            rows.push((table.clone(), r.get(0), r.get(1), r.get(2)));
        }
    }
    rows
}

/// Polls, from an observer session, until session `waiter` is blocked by session `holder`
/// (pg_blocking_pids), failing after `within`.
pub fn wait_until_blocked(observer: &mut Client, waiter: i32, holder: i32, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let blocked: bool = observer
            .query_one("SELECT $2 = ANY(pg_blocking_pids($1))", &[&waiter, &holder])
            .expect("pg_blocking_pids")
            .get(0);
        if blocked {
            return;
        }
        if Instant::now() >= deadline {
            let activity = observer
                .query_one(
                    "SELECT coalesce(state, '') || ' / ' || coalesce(wait_event_type, '-') || ' / ' || coalesce(query, '')
                       FROM pg_stat_activity WHERE pid = $1",
                    &[&waiter],
                )
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_else(|_| "(session gone)".to_string());
            panic!("session {waiter} was not blocked by session {holder} within {within:?}; it is: {activity}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A statement running in another thread (with its own session), and when it finished.
pub struct Background<T> {
    pub what: String,
    done: Receiver<(T, Instant)>,
    handle: Option<JoinHandle<()>>,
}

/// Runs `f` in a new thread; its result comes back with the instant it returned.
pub fn spawn<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> Background<T> {
    let (tx, done) = mpsc::channel();
    let handle = thread::spawn(move || {
        let result = f();
        let _ = tx.send((result, Instant::now()));
    });
    Background { what: what.to_string(), done, handle: Some(handle) }
}

impl<T> Background<T> {
    /// The result, if the statement has already returned.
    pub fn returned(&mut self) -> Option<T> {
        match self.done.try_recv() {
            Ok((result, _)) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.thread_panicked(),
        }
    }

    /// Asserts the statement is still running after `wait`.
    pub fn assert_still_running(&mut self, wait: Duration) {
        match self.done.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(_) => panic!("{} finished within {wait:?}; it should have been waiting for a lock", self.what),
            Err(RecvTimeoutError::Disconnected) => self.thread_panicked(),
        }
    }

    /// The statement's result and when it finished, failing if it takes longer than `within`.
    pub fn finish(mut self, within: Duration) -> (T, Instant) {
        match self.done.recv_timeout(within) {
            Ok(done) => {
                if let Some(handle) = self.handle.take() {
                    let _ = handle.join();
                }
                done
            }
            Err(RecvTimeoutError::Timeout) => panic!("{} did not finish within {within:?}", self.what),
            Err(RecvTimeoutError::Disconnected) => self.thread_panicked(),
        }
    }

    fn thread_panicked(&mut self) -> ! {
        let cause = match self.handle.take().map(JoinHandle::join) {
            Some(Err(panic)) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
            _ => String::new(),
        };
        panic!("the thread running {} panicked: {cause}", self.what)
    }
}
