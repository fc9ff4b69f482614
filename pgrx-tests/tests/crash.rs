//! A crash in the middle of a batch of `CALL erasure.erase_batches(...)`: the backend killed
//! with SIGKILL (PostgreSQL then restarts every backend and recovers), or the whole server
//! stopped with `pg_ctl -m immediate` and started again. Either way, after recovery every
//! candidate is fully erased with exactly one ledger row (the batches committed before the
//! crash) or untouched down to its rows' ctid and xmin (the batch cut, and those after it),
//! retained invoices are unchanged, and running erase_batches again erases each remaining
//! candidate once, leaving the ones erased before alone.
//!
//! The crash lands mid-batch deterministically, without sleeping: a test-only trigger on
//! shop.orders makes the second batch, after its UPDATE has written the batch's rows, wait on
//! an advisory lock the test holds (the gate). The test crashes the server once that batch
//! is seen waiting there, its transaction having written every row of the batch.
//!
//! Needs the cluster of scripts/test.sh: PGHOST, PGPORT, PGUSER, PGDATABASE, and CLUSTER_DIR
//! and PG_BIN to stop and start it. The server is left running when a test ends, even on
//! failure, for the test files that follow.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use postgres::{Client, NoTls};

/// Candidates: customers FIRST..=LAST, erased BATCH at a time; the gate holds the second batch.
const FIRST: i64 = 100;
const LAST: i64 = 499;
const BATCH: i64 = 50;
/// The advisory lock key of the gate.
const GATE: i64 = 0x6572_6173_6531;
/// The most a statement expected to finish, or the server's recovery, may take.
const DEADLINE: Duration = Duration::from_secs(10);
const RECOVERY: Duration = Duration::from_secs(60);

/// Each test crashes every session of the cluster: never two at a time, whatever the number
/// of test threads.
static ONE_CRASH_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The candidates, each with an order (masked) and an invoice (retained), and the gate.
fn setup() -> String {
    let second_batch = FIRST + BATCH;
    format!(
        "INSERT INTO shop.customers (id, name, email)
         SELECT g, 'Name ' || g, 'n' || g || '@example.com' FROM generate_series({FIRST}, {LAST}) g;
         INSERT INTO shop.orders (customer_id, status, ship_name)
         SELECT g, 'delivered', 'Ship to ' || g FROM generate_series({FIRST}, {LAST}) g;
         INSERT INTO billing.invoices (id, customer_id, order_id, billed_name, total)
         SELECT o.id, o.customer_id, o.id, o.ship_name, 10 FROM shop.orders o WHERE o.customer_id >= {FIRST};
         -- Test-only: an AFTER trigger fires once the statement has written its rows. The erasure
         -- runs with search_path = pg_catalog, pg_temp, hence the qualified names.
         CREATE FUNCTION public.crash_gate() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM pg_catalog.pg_advisory_xact_lock_shared({GATE});
             RETURN NULL;
         END
         $$;
         CREATE TRIGGER crash_gate AFTER UPDATE ON shop.orders FOR EACH ROW
             WHEN (NEW.customer_id >= {second_batch}) EXECUTE FUNCTION public.crash_gate();
         SELECT erasure.register_batch_rule('customer', 'from',
             'SELECT id FROM shop.customers WHERE id >= $1', parameter => 'bigint');"
    )
}

fn erase_batches() -> String {
    format!("CALL erasure.erase_batches('customer', 'from', '{FIRST}', {BATCH}, 'anonymize')")
}

/// The server of the tests, driven with pg_ctl as the postgres OS user (PostgreSQL refuses
/// root). Dropped, it starts the server again if it is down, so the test files after this
/// one find it running even when a test fails half-way.
struct Server {
    data: String,
    log: String,
    pg_ctl: String,
}

impl Server {
    fn from_env() -> Server {
        let var = |name: &str| {
            std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
                panic!(
                    "{name} is not set: run the tests through scripts/test.sh, or `source scripts/cluster.sh; \
                     cluster_start` first (it exports CLUSTER_DIR and PG_BIN)"
                )
            })
        };
        let dir = var("CLUSTER_DIR");
        Server {
            data: format!("{dir}/data"),
            log: format!("{dir}/server.log"),
            pg_ctl: format!("{}/pg_ctl", var("PG_BIN")),
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        Command::new("sudo")
            .args(["-u", "postgres", &self.pg_ctl, "-D", &self.data])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"))
    }

    fn running(&self) -> bool {
        self.pg_ctl(&["status"]).status.success()
    }

    fn stop_immediately(&self) {
        let output = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        assert!(output.status.success(), "pg_ctl stop -m immediate: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Starts the server with the options it was last started with: the postmaster wrote its
    /// command line to postmaster.opts (`/usr/…/postgres "-D" "/tmp/…/data" "-p" "5432" …`,
    /// each argument in double quotes); pg_ctl hands -o to the shell, which unquotes them.
    fn start(&self) -> Result<(), String> {
        let opts_file = format!("{}/postmaster.opts", self.data);
        let opts = std::fs::read_to_string(&opts_file).map_err(|e| format!("{opts_file}: {e}"))?;
        let (_program, arguments) =
            opts.trim().split_once(" \"").ok_or_else(|| format!("{opts_file} holds no argument: {opts:?}"))?;
        // pg_ctl gives -D itself.
        let options = format!("\"{arguments}").replace(&format!("\"-D\" \"{}\"", self.data), "");
        let output = self.pg_ctl(&["-l", &self.log, "-w", "-t", "60", "-o", &options, "start"]);
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start -o {options}: {}{}\nend of the server log:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_since(self.log_len().saturating_sub(2000))
            ))
        }
    }

    fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// What the server logged from byte `offset` on.
    fn log_since(&self, offset: u64) -> String {
        let log = std::fs::read(&self.log).unwrap_or_else(|e| panic!("cannot read {}: {e}", self.log));
        String::from_utf8_lossy(log.get(offset as usize..).unwrap_or_default()).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.running() {
            if let Err(e) = self.start() {
                eprintln!("could not start the server again after the crash test: {e}");
            }
        }
    }
}

/// Connects once the server accepts connections again, failing after RECOVERY.
fn reconnect(dbname: &str) -> Client {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let error = match config(dbname).connect(NoTls) {
            Ok(mut client) => match client.simple_query("SELECT 1") {
                Ok(_) => return client,
                Err(e) => describe(&e),
            },
            Err(e) => describe(&e),
        };
        assert!(Instant::now() < deadline, "the server did not accept connections within {RECOVERY:?}: {error}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls until `client`'s session is gone: the crash ends every session, not only the one
/// killed.
fn wait_until_disconnected(client: &mut Client) {
    let deadline = Instant::now() + RECOVERY;
    while client.simple_query("SELECT 1").is_ok() {
        assert!(Instant::now() < deadline, "a session survived the crash for {RECOVERY:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each candidate's rows in `table` (found by its column `key`), with their physical identity
/// (ctid) and writing transaction (xmin): a row written again, even with the same values,
/// differs. A row whose update was rolled back by the crash keeps both.
fn rows(client: &mut Client, table: &str, key: &str) -> BTreeMap<i64, Vec<String>> {
    let sql = format!(
        "SELECT t.{key}, format('{table} %s %s %s', t.ctid, t.xmin, to_jsonb(t)) FROM {table} t
          WHERE t.{key} >= $1 ORDER BY t.ctid"
    );
    let mut by_customer: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for row in client.query(sql.as_str(), &[&FIRST]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))) {
        by_customer.entry(row.get(0)).or_default().push(row.get(1));
    }
    by_customer
}

/// Each candidate's rows in the tables the erasure masks.
fn personal_rows(client: &mut Client) -> BTreeMap<i64, Vec<String>> {
    let mut personal = rows(client, "shop.customers", "id");
    for (customer, orders) in rows(client, "shop.orders", "customer_id") {
        personal.entry(customer).or_default().extend(orders);
    }
    personal
}

/// The ledger of the candidates: (key, number of rows), by key.
fn ledger(client: &mut Client) -> Vec<(i64, i64)> {
    client
        .query(
            "SELECT key::bigint, count(*) FROM erasure.ledger
              WHERE subject = 'customer' AND key::bigint >= $1 GROUP BY 1 ORDER BY 1",
            &[&FIRST],
        )
        .expect("ledger")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Every candidate fully erased with exactly one ledger row if `erased` holds it, untouched
/// (its rows as in `before`) otherwise; invoices as in `invoices_before`.
fn assert_erased_or_untouched(
    client: &mut Client,
    erased: &[i64],
    before: &BTreeMap<i64, Vec<String>>,
    invoices_before: &BTreeMap<i64, Vec<String>>,
) {
    let expected_ledger: Vec<(i64, i64)> = erased.iter().map(|&id| (id, 1)).collect();
    assert_eq!(ledger(client), expected_ledger, "ledger rows of the candidates (key, count)");
    let now = personal_rows(client);
    for id in FIRST..=LAST {
        if erased.contains(&id) {
            assert_eq!(customer(client, id), ("Xxxx".to_string(), format!("erased-{id}@invalid.example")));
            let orders = orders(client, id);
            assert!(!orders.is_empty(), "customer {id} lost its orders");
            for (order, status, ship_name) in orders {
                assert_eq!(
                    (status.as_deref(), ship_name.as_deref()),
                    (Some("delivered"), Some("Unknown customer")),
                    "order {order} of erased customer {id}"
                );
            }
        } else {
            assert_eq!(now.get(&id), before.get(&id), "customer {id} is not erased, so its rows must be untouched");
        }
    }
    assert_eq!(&rows(client, "billing.invoices", "customer_id"), invoices_before, "retained invoices changed");
}

/// Runs erase_batches over the candidates, crashes the server with `crash` while the second
/// batch has written and waits in the gate, and checks the database after recovery and after
/// a second run. `crash` gets the server and the pid of the backend running the batches, and
/// returns once the server is down or restarting; `in_log` is what the server must log.
fn crash_mid_batch(test: &str, in_log: &[&str], crash: impl FnOnce(&Server, i32)) {
    let _one = ONE_CRASH_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let db = TestDb::create(test);
    // Declared after db, so dropped before it: the server is up again when db drops its database.
    let server = Server::from_env();
    let mut observer = db.connect();
    observer.batch_execute(&setup()).unwrap_or_else(|e| panic!("setup: {}", describe(&e)));
    let before = personal_rows(&mut observer);
    let invoices_before = rows(&mut observer, "billing.invoices", "customer_id");
    assert_eq!(before.len() as i64, LAST - FIRST + 1, "every candidate should have rows");

    // Close the gate, then start the batches in another session.
    observer.query_one("SELECT pg_advisory_lock($1)", &[&GATE]).expect("closing the gate");
    let observer_pid = backend_pid(&mut observer);
    let mut eraser = db.connect();
    let eraser_pid = backend_pid(&mut eraser);
    // Long enough to wait in the gate until the crash (the session's statement_timeout still
    // bounds the call): a lock timeout there would roll the batch back before the crash.
    eraser.batch_execute("SET erasure.lock_timeout = '25s'").unwrap();
    let run = spawn("erase_batches", move || eraser.batch_execute(&erase_batches()));
    wait_until_blocked(&mut observer, eraser_pid, observer_pid, DEADLINE);

    // The first batch is committed; the second has written (it has a transaction id, the
    // trigger fires after the UPDATE, and every row of the batch carries the transaction in
    // its xmax, the old version that other sessions still see) and waits.
    let first_batch: Vec<i64> = (FIRST..FIRST + BATCH).collect();
    let committed: Vec<i64> = ledger(&mut observer).into_iter().map(|(key, _)| key).collect();
    assert_eq!(committed, first_batch, "when the second batch reached the gate, the first should be committed");
    let row = observer
        .query_one("SELECT backend_xid::text, query FROM pg_stat_activity WHERE pid = $1", &[&eraser_pid])
        .expect("pg_stat_activity of the batches");
    let query: String = row.get(1);
    assert!(query.contains("erase_batches"), "session {eraser_pid} runs {query:?}");
    let xid: Option<String> = row.get(0);
    let cut = xid.unwrap_or_else(|| panic!("the batch waiting in the gate has no transaction id: it wrote nothing"));
    let written: i64 = observer
        .query_one(
            "SELECT (SELECT count(*) FROM shop.customers WHERE id >= $1 AND id < $1 + $2 AND xmax::text = $3)
                  + (SELECT count(*) FROM shop.orders WHERE customer_id >= $1 AND customer_id < $1 + $2 AND xmax::text = $3)",
            &[&(FIRST + BATCH), &BATCH, &cut],
        )
        .expect("rows written by the cut batch")
        .get(0);
    assert_eq!(written, 2 * BATCH, "rows of the second batch written by its transaction {cut}");

    let log_from = server.log_len();
    crash(&server, eraser_pid);
    let (result, _) = run.finish(RECOVERY);
    let error = result.expect_err("erase_batches should have died with the server");
    wait_until_disconnected(&mut observer);
    drop(observer);

    let mut client = reconnect(&db.name);
    let log = server.log_since(log_from);
    for expected in in_log {
        assert!(log.contains(expected), "the server log should say {expected:?}; it says:\n{log}");
    }
    // Only the batch committed before the crash is erased; the cut one and those after it are
    // untouched.
    assert_erased_or_untouched(&mut client, &first_batch, &before, &invoices_before);
    let after_crash = personal_rows(&mut client);
    println!("{test}: the crash cut batch 2 (transaction {cut}) of erase_batches, which got: {}", describe(&error));

    // A second run finishes the job: the rest erased once, the first batch left alone.
    client.batch_execute(&erase_batches()).unwrap_or_else(|e| panic!("erase_batches after recovery: {}", describe(&e)));
    let all: Vec<i64> = (FIRST..=LAST).collect();
    assert_erased_or_untouched(&mut client, &all, &before, &invoices_before);
    let row = client
        .query_one("SELECT count(*), count(DISTINCT key) FROM erasure.ledger WHERE subject = 'customer'", &[])
        .unwrap();
    let (entries, keys): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((entries, keys), (all.len() as i64, all.len() as i64), "ledger rows and distinct keys");
    let after_rerun = personal_rows(&mut client);
    for id in &first_batch {
        assert_eq!(
            after_rerun.get(id),
            after_crash.get(id),
            "customer {id}, erased before the crash, was written again"
        );
    }
}

/// The backend running the batches is killed with SIGKILL: the postmaster ends every other
/// session, reinitialises and recovers from the WAL.
#[test]
fn erase_batches_killed_mid_batch_recovers_whole_batches_and_reruns_once() {
    crash_mid_batch("crash_kill", &["was terminated by signal 9", "automatic recovery in progress"], |_, pid| {
        let output = Command::new("kill").args(["-9", &pid.to_string()]).output().expect("cannot run kill");
        assert!(output.status.success(), "kill -9 {pid}: {}", String::from_utf8_lossy(&output.stderr));
    });
}

/// The whole server stops without a checkpoint (`pg_ctl -m immediate`, as in a power cut,
/// fsync aside) and starts again, recovering from the WAL.
#[test]
fn server_stopped_immediately_mid_batch_recovers_whole_batches_and_reruns_once() {
    crash_mid_batch("crash_stop", &["automatic recovery in progress"], |server, _| {
        server.stop_immediately();
        assert!(!server.running(), "pg_ctl stop -m immediate returned with the server still running");
        server.start().unwrap_or_else(|e| panic!("{e}"));
    });
}
