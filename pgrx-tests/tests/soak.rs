//! Concurrency soak: erasures running for about a minute beside the shop's own traffic, on a
//! seeded shop of 20,000 customers. Four sessions erase customers one transaction each while
//! four others place orders, pay invoices and move addresses, often for the very customers
//! being erased. Afterwards it proves:
//!
//! - no deadlock (no 40P01 in any session, pg_stat_database.deadlocks unchanged) and no error
//!   but the expected ones: 55000 (a blocker refused the erasure) and 55P03 (lock timeout);
//! - every customer in the ledger is fully masked in every masked table, the orders placed
//!   while its erasure was running included, its activity deleted, and no blocker was ignored;
//! - every invoice (retained) is exactly what the shop wrote, and every customer nobody erased
//!   has exactly what the shop wrote, its personal columns untouched.
//!
//! "What the shop wrote" is an oracle, `public.soak_expected`: each shop transaction writes
//! there, in the same transaction and from the same parameters, the row it writes to the shop,
//! so it is exact whether the transaction commits or not.
//!
//! Bounded: loopback only (the cluster's unix socket), a fixed seed for the data and every
//! random choice, each loop limited in count and in time, each session awaited with a
//! deadline. The figures are printed at the end (`--nocapture`) and repeated in every
//! assertion message.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use postgres::{Client, Statement};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const CUSTOMERS: i64 = 20_000;
/// The customers who ask to be erased: half of them, drawn at random; the other half are
/// never erased, and must end exactly as the shop left them.
const LEAVING: usize = CUSTOMERS as usize / 2;
const ERASERS: usize = 4;
const SHOPPERS: usize = 4;
/// How long the sessions keep going.
const LOAD: Duration = Duration::from_secs(60);
/// How long after LOAD a session may take to return: its last statement, which the
/// connection's statement_timeout (common/mod.rs) bounds anyway.
const GRACE: Duration = Duration::from_secs(45);
/// A bound on each session's loop whatever the machine's speed.
const MAX_TRANSACTIONS: usize = 200_000;
const SEED: u64 = 0x00e2_a5e5_0a4c;
/// A transaction taking longer than this probably waited for a lock.
const SLOW: Duration = Duration::from_millis(100);
/// erasure.lock_timeout of the erasing sessions.
const ERASER_LOCK_TIMEOUT: &str = "2000ms";

/// The shop, its erasure catalog, the oracle and a view of every row as (tbl, id,
/// customer_id, row) to compare with it.
const SCHEMA: &str = r#"
CREATE EXTENSION pg_erasure;
CREATE SCHEMA shop;
CREATE SCHEMA billing;

CREATE TABLE shop.customers (
    id bigint PRIMARY KEY,
    full_name text NOT NULL,
    email text NOT NULL UNIQUE,
    phone text,
    birth_date date NOT NULL,
    uf text NOT NULL,
    anonymized_at timestamptz
);
CREATE TABLE shop.addresses (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    street text NOT NULL,
    city text NOT NULL,
    postal_code text NOT NULL
);
CREATE TABLE shop.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    status text NOT NULL,
    ship_name text NOT NULL,
    ship_street text NOT NULL,
    ship_city text NOT NULL,
    total_cents bigint NOT NULL
);
CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    order_id bigint NOT NULL REFERENCES shop.orders,
    billed_name text NOT NULL,
    total_cents bigint NOT NULL,
    paid boolean NOT NULL
);
CREATE TABLE shop.activity (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customers,
    what text NOT NULL
);
CREATE INDEX ON shop.addresses (customer_id);
CREATE INDEX ON shop.orders (customer_id);
CREATE INDEX ON billing.invoices (customer_id);
CREATE INDEX ON shop.activity (customer_id);

SELECT erasure.register_subject('customer', 'shop.customers', summary_columns => '{full_name,email}');
SELECT erasure.register_table('customer', 'shop.addresses');
SELECT erasure.register_table('customer', 'shop.orders');
SELECT erasure.register_table('customer', 'shop.activity', 'delete');
SELECT erasure.register_table('customer', 'billing.invoices', 'retain',
                              reason => 'bookkeeping law: invoices are kept unchanged');
SELECT erasure.set_policy('shop.customers', 'full_name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.customers', 'email', 'placeholder',
                          '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('shop.customers', 'phone', 'null');
SELECT erasure.set_policy('shop.customers', 'birth_date', 'year_only');
SELECT erasure.set_policy('shop.customers', 'uf', 'keep');
SELECT erasure.set_policy('shop.customers', 'anonymized_at', 'now');
SELECT erasure.set_policy('shop.addresses', 'id', 'keep');
SELECT erasure.set_policy('shop.addresses', 'street', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.addresses', 'city', 'keep');
SELECT erasure.set_policy('shop.addresses', 'postal_code', 'keep');
SELECT erasure.set_policy('shop.orders', 'id', 'keep');
SELECT erasure.set_policy('shop.orders', 'status', 'keep');
SELECT erasure.set_policy('shop.orders', 'ship_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.set_policy('shop.orders', 'ship_street', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('shop.orders', 'ship_city', 'keep');
SELECT erasure.set_policy('shop.orders', 'total_cents', 'keep');
SELECT erasure.register_blocker('customer', 'order_awaiting_payment',
    $$SELECT o.id FROM shop.orders AS o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$,
    'an order is awaiting payment');
SELECT erasure.register_blocker('customer', 'unpaid_invoice',
    $$SELECT i.id, i.total_cents FROM billing.invoices AS i WHERE i.customer_id = $1 AND NOT i.paid$$,
    'an invoice is unpaid');

-- The oracle: not registered, the erasure never reads or writes it.
CREATE TABLE public.soak_expected (
    tbl text NOT NULL,
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    row jsonb NOT NULL,
    PRIMARY KEY (tbl, id)
);
CREATE VIEW public.soak_actual AS
          SELECT 'shop.customers' AS tbl, t.id, t.id AS customer_id, to_jsonb(t) AS row FROM shop.customers t
UNION ALL SELECT 'shop.addresses', t.id, t.customer_id, to_jsonb(t) FROM shop.addresses t
UNION ALL SELECT 'shop.orders', t.id, t.customer_id, to_jsonb(t) FROM shop.orders t
UNION ALL SELECT 'billing.invoices', t.id, t.customer_id, to_jsonb(t) FROM billing.invoices t
UNION ALL SELECT 'shop.activity', t.id, t.customer_id, to_jsonb(t) FROM shop.activity t;
"#;

/// The seeded data, set-based: per customer one address, two orders each with its invoice,
/// three activity rows. Every tenth customer's second order awaits payment (its invoice
/// unpaid), so its erasure is refused until a shop session pays it. Then the oracle starts
/// as a copy of it all.
fn seed(customers: i64) -> String {
    format!(
        "INSERT INTO shop.customers (id, full_name, email, phone, birth_date, uf)
         SELECT g, 'Customer ' || g || ' ' || substr(md5(g::text), 1, 6), 'c' || g || '@example.com',
                '+55 11 9' || lpad(g::text, 8, '0'), date '1950-01-01' + (g * 7919) % 18000,
                (ARRAY['SP', 'RJ', 'MG', 'RS', 'BA'])[1 + g % 5]
           FROM generate_series(1, {customers}) g;
         INSERT INTO shop.addresses (id, customer_id, street, city, postal_code)
         SELECT g, g, 'Rua ' || g, 'City ' || g % 100, lpad((g * 37 % 99999)::text, 5, '0') || '-000'
           FROM generate_series(1, {customers}) g;
         INSERT INTO shop.orders (id, customer_id, status, ship_name, ship_street, ship_city, total_cents)
         SELECT 2 * c.id - 2 + k, c.id,
                CASE WHEN k = 2 AND c.id % 10 = 0 THEN 'awaiting_payment' ELSE 'delivered' END,
                c.full_name, a.street, a.city, (c.id * 131 + k * 17) % 50000 + 100
           FROM shop.customers c JOIN shop.addresses a ON a.customer_id = c.id, generate_series(1, 2) k;
         INSERT INTO billing.invoices (id, customer_id, order_id, billed_name, total_cents, paid)
         SELECT o.id, o.customer_id, o.id, o.ship_name, o.total_cents, o.status <> 'awaiting_payment'
           FROM shop.orders o;
         INSERT INTO shop.activity (customer_id, what)
         SELECT c, 'login ' || k FROM generate_series(1, {customers}) c, generate_series(1, 3) k;
         SELECT setval('shop.addresses_id_seq', {customers});
         SELECT setval('shop.orders_id_seq', 2 * {customers});
         SELECT setval('billing.invoices_id_seq', 2 * {customers});
         INSERT INTO public.soak_expected SELECT * FROM public.soak_actual;
         ANALYZE;"
    )
}

/// The customers the erasing sessions take, in a seeded random order, one after the other,
/// starting over at the end (a customer blocked the first time may be erasable now, one erased
/// must be reported already erased); the shop sessions aim at the same neighbourhood so that
/// they meet the erasures.
struct Targets {
    order: Vec<i64>,
    next: AtomicUsize,
}

impl Targets {
    fn take(&self) -> i64 {
        self.order[self.next.fetch_add(1, Ordering::Relaxed) % self.order.len()]
    }

    /// A customer taken earlier: erased, blocked, or timed out then.
    fn again(&self, rng: &mut StdRng) -> Option<i64> {
        let taken = self.next.load(Ordering::Relaxed).min(self.order.len());
        (taken > 0).then(|| self.order[rng.gen_range(0..taken)])
    }

    /// A customer the erasing sessions are working on, or are about to take.
    fn near(&self, rng: &mut StdRng) -> i64 {
        let at = self.next.load(Ordering::Relaxed) as i64 + rng.gen_range(-(ERASERS as i64)..2 * ERASERS as i64);
        self.order[at.rem_euclid(self.order.len() as i64) as usize]
    }
}

/// What one session (or all of them, merged) did.
#[derive(Default)]
struct Tally {
    transactions: usize,
    /// Outcomes of the transactions that did not fail: `anonymized`, `order placed`, ...
    outcomes: BTreeMap<String, usize>,
    /// Failed transactions by SQLSTATE, with the first message of each.
    errors: BTreeMap<String, (usize, String)>,
    /// The customers this session's erasures anonymized.
    erased: Vec<i64>,
    /// Transactions that took longer than SLOW.
    slow: usize,
    slowest: Duration,
}

impl Tally {
    fn record(&mut self, took: Duration, outcome: Result<&str, postgres::Error>) {
        self.transactions += 1;
        self.slow += usize::from(took > SLOW);
        self.slowest = self.slowest.max(took);
        match outcome {
            Ok(outcome) => *self.outcomes.entry(outcome.to_string()).or_default() += 1,
            Err(e) => {
                let code = e.code().map_or("client error", |c| c.code()).to_string();
                self.errors.entry(code).or_insert_with(|| (0, describe(&e))).0 += 1;
            }
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.transactions += other.transactions;
        for (outcome, n) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += n;
        }
        for (code, (n, first)) in other.errors {
            self.errors.entry(code).or_insert((0, first)).0 += n;
        }
        self.erased.extend(other.erased);
        self.slow += other.slow;
        self.slowest = self.slowest.max(other.slowest);
        self
    }

    fn outcome(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    fn errors(&self, code: &str) -> usize {
        self.errors.get(code).map_or(0, |e| e.0)
    }

    /// Errors whose SQLSTATE is not among `expected`.
    fn unexpected(&self, expected: &[&str]) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(code, _)| !expected.contains(&code.as_str()))
            .map(|(code, (n, first))| format!("{n} x {code}, first: {first}"))
            .collect()
    }
}

/// One erasing session: `erasure.anonymize_customer(id)` per transaction, for the next customer
/// of `targets`, and now and then for one taken before (erasing it again must change nothing).
fn erase(mut client: Client, targets: &Targets, seed: u64, stop: Instant) -> Tally {
    client
        .batch_execute(&format!("SET erasure.lock_timeout = '{ERASER_LOCK_TIMEOUT}'; SET application_name = 'eraser'"))
        .unwrap_or_else(|e| panic!("SET erasure.lock_timeout: {}", describe(&e)));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    while Instant::now() < stop && tally.transactions < MAX_TRANSACTIONS && !client.is_closed() {
        let again = if rng.gen_bool(0.05) { targets.again(&mut rng) } else { None };
        let id = again.unwrap_or_else(|| targets.take());
        let began = Instant::now();
        let result = anonymize(&mut client, id);
        let outcome = match result {
            Ok(report) if report.status == "anonymized" => {
                tally.erased.push(id);
                Ok("anonymized")
            }
            Ok(report) if report.status == "already_erased" => Ok("already_erased"),
            Ok(_) => Ok("unexpected report"),
            Err(e) => Err(e),
        };
        tally.record(began.elapsed(), outcome);
    }
    tally
}

/// The shop sessions' statements. Each write to the shop writes the oracle in the same
/// statement, from the same parameters.
struct Shop {
    lock_for_order: Statement,
    lock_customer: Statement,
    insert_order: Statement,
    insert_invoice: Statement,
    insert_activity: Statement,
    pay_invoice: Statement,
    mark_order_paid: Statement,
    move_address: Statement,
}

impl Shop {
    fn prepare(client: &mut Client) -> Shop {
        let mut prepare = |sql: &str| client.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
        Shop {
            // The application contract (README): a transaction that writes a customer's
            // personal data first takes the customer's row FOR SHARE, unless it is erased.
            // Under READ COMMITTED this waits for an erasure in progress and then finds the
            // row masked (anonymized_at set), so the write is skipped: nothing read before the
            // erasure can reach a row the erasure already passed.
            lock_for_order: prepare(
                "SELECT c.full_name, a.street, a.city
                   FROM shop.customers c JOIN shop.addresses a ON a.customer_id = c.id
                  WHERE c.id = $1 AND c.anonymized_at IS NULL
                    FOR SHARE OF c",
            ),
            lock_customer: prepare("SELECT FROM shop.customers WHERE id = $1 AND anonymized_at IS NULL FOR SHARE"),
            insert_order: prepare(
                "WITH o AS (
                     INSERT INTO shop.orders (customer_id, status, ship_name, ship_street, ship_city, total_cents)
                     VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::bigint) RETURNING id)
                 INSERT INTO public.soak_expected (tbl, id, customer_id, row)
                 SELECT 'shop.orders', o.id, $1::bigint,
                        jsonb_build_object('id', o.id, 'customer_id', $1::bigint, 'status', $2::text,
                                           'ship_name', $3::text, 'ship_street', $4::text, 'ship_city', $5::text,
                                           'total_cents', $6::bigint)
                   FROM o RETURNING id",
            ),
            insert_invoice: prepare(
                "WITH i AS (
                     INSERT INTO billing.invoices (customer_id, order_id, billed_name, total_cents, paid)
                     VALUES ($1::bigint, $2::bigint, $3::text, $4::bigint, $5::boolean) RETURNING id)
                 INSERT INTO public.soak_expected (tbl, id, customer_id, row)
                 SELECT 'billing.invoices', i.id, $1::bigint,
                        jsonb_build_object('id', i.id, 'customer_id', $1::bigint, 'order_id', $2::bigint,
                                           'billed_name', $3::text, 'total_cents', $4::bigint, 'paid', $5::boolean)
                   FROM i",
            ),
            insert_activity: prepare(
                "WITH a AS (INSERT INTO shop.activity (customer_id, what) VALUES ($1::bigint, $2::text) RETURNING id)
                 INSERT INTO public.soak_expected (tbl, id, customer_id, row)
                 SELECT 'shop.activity', a.id, $1::bigint,
                        jsonb_build_object('id', a.id, 'customer_id', $1::bigint, 'what', $2::text)
                   FROM a",
            ),
            // Paying takes no customer lock: invoices are retained, the erasure never writes
            // them, and the order's status is a kept column (an UPDATE that waited for an
            // erasure re-reads the masked row and changes the status alone). A payment racing
            // an erasure is seen by the erasure's blocker query: unpaid before the payment
            // commits, so the erasure is refused.
            pay_invoice: prepare(
                "WITH i AS (
                     UPDATE billing.invoices SET paid = true
                      WHERE id = (SELECT min(id) FROM billing.invoices WHERE customer_id = $1 AND NOT paid)
                        AND NOT paid
                     RETURNING id, order_id)
                 UPDATE public.soak_expected e SET row = e.row || '{\"paid\": true}'
                   FROM i WHERE e.tbl = 'billing.invoices' AND e.id = i.id
                 RETURNING i.order_id",
            ),
            mark_order_paid: prepare(
                "WITH o AS (UPDATE shop.orders SET status = 'paid'
                             WHERE id = $1 AND status = 'awaiting_payment' RETURNING id)
                 UPDATE public.soak_expected e SET row = e.row || '{\"status\": \"paid\"}'
                   FROM o WHERE e.tbl = 'shop.orders' AND e.id = o.id",
            ),
            move_address: prepare(
                "WITH a AS (UPDATE shop.addresses SET street = $2::text, city = $3::text
                             WHERE customer_id = $1::bigint RETURNING id)
                 UPDATE public.soak_expected e SET row = e.row || jsonb_build_object('street', $2::text, 'city', $3::text)
                   FROM a WHERE e.tbl = 'shop.addresses' AND e.id = a.id",
            ),
        }
    }

    /// Places an order shipped to the customer's name and address, with its invoice (paid or
    /// not: an unpaid one blocks the customer's erasure until paid).
    fn place_order(
        &self,
        client: &mut Client,
        customer: i64,
        paid: bool,
        total: i64,
    ) -> Result<&'static str, postgres::Error> {
        let mut tx = client.transaction()?;
        let Some(row) = tx.query_opt(&self.lock_for_order, &[&customer])? else {
            return Ok("customer erased: nothing written");
        };
        let (name, street, city): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let status = if paid { "paid" } else { "awaiting_payment" };
        let order: i64 = tx.query_one(&self.insert_order, &[&customer, &status, &name, &street, &city, &total])?.get(0);
        tx.execute(&self.insert_invoice, &[&customer, &order, &name, &total, &paid])?;
        tx.execute(&self.insert_activity, &[&customer, &format!("placed order {order}")])?;
        tx.commit()?;
        Ok("order placed")
    }

    /// Pays the customer's oldest unpaid invoice, if any, and marks its order paid.
    fn pay_invoice(&self, client: &mut Client, customer: i64) -> Result<&'static str, postgres::Error> {
        let mut tx = client.transaction()?;
        let Some(row) = tx.query_opt(&self.pay_invoice, &[&customer])? else {
            return Ok("nothing to pay");
        };
        let order: i64 = row.get(0);
        tx.execute(&self.mark_order_paid, &[&order])?;
        tx.commit()?;
        Ok("invoice paid")
    }

    /// Moves the customer to a new address (the contract's lock first).
    fn move_address(
        &self,
        client: &mut Client,
        customer: i64,
        street: &str,
        city: &str,
    ) -> Result<&'static str, postgres::Error> {
        let mut tx = client.transaction()?;
        if tx.query_opt(&self.lock_customer, &[&customer])?.is_none() {
            return Ok("customer erased: nothing written");
        }
        tx.execute(&self.move_address, &[&customer, &street, &city])?;
        tx.execute(&self.insert_activity, &[&customer, &"moved"])?;
        tx.commit()?;
        Ok("address moved")
    }
}

/// One shop session: short transactions for random customers, half of them near the
/// erasures' current position.
fn shop(mut client: Client, targets: &Targets, seed: u64, stop: Instant) -> Tally {
    client.batch_execute("SET application_name = 'shop'").expect("SET application_name");
    let shop = Shop::prepare(&mut client);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    while Instant::now() < stop && tally.transactions < MAX_TRANSACTIONS && !client.is_closed() {
        // Every random value is drawn whatever the outcome, so the sequence depends on the
        // seed alone.
        let customer = if rng.gen_bool(0.5) { targets.near(&mut rng) } else { rng.gen_range(1..=CUSTOMERS) };
        // Half of the payments go to the seeded unpaid invoices of every tenth customer.
        let payer = if rng.gen_bool(0.5) { 10 * rng.gen_range(1..=CUSTOMERS / 10) } else { customer };
        let action = rng.gen_range(0..3);
        let paid = rng.gen_bool(0.5);
        let total = rng.gen_range(100..50_000i64);
        let street = format!("Avenida {}", rng.gen_range(1..100_000));
        let city = format!("City {}", rng.gen_range(0..100));
        let began = Instant::now();
        let outcome = match action {
            0 => shop.place_order(&mut client, customer, paid, total),
            1 => shop.pay_invoice(&mut client, payer),
            _ => shop.move_address(&mut client, customer, &street, &city),
        };
        tally.record(began.elapsed(), outcome);
    }
    tally
}

/// Who waits for whom, sampled from pg_stat_activity every 50 ms while the load runs: how
/// often the sessions met on a lock.
fn sample_lock_waits(observer: &mut Client, dbname: &str, until: Instant) -> (usize, BTreeMap<String, usize>) {
    let (mut samples, mut waits) = (0, BTreeMap::new());
    while Instant::now() < until {
        samples += 1;
        let rows = observer
            .query(
                "SELECT w.application_name || ' waits for ' || h.application_name
                   FROM pg_stat_activity w
                  CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
                   JOIN pg_stat_activity h ON h.pid = b.pid
                  WHERE w.datname = $1",
                &[&dbname],
            )
            .expect("sampling lock waits");
        for row in rows {
            *waits.entry(row.get(0)).or_default() += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (samples, waits)
}

fn deadlocks(client: &mut Client, dbname: &str) -> i64 {
    client.batch_execute("SELECT pg_stat_clear_snapshot()").expect("pg_stat_clear_snapshot");
    client
        .query_one("SELECT deadlocks FROM pg_stat_database WHERE datname = $1", &[&dbname])
        .expect("pg_stat_database")
        .get(0)
}

/// Waits until the sessions of the load have left: a backend reports its statistics (its
/// deadlock count) to pg_stat_database when it exits.
fn wait_for_sessions_to_end(observer: &mut Client, dbname: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                &[&dbname],
            )
            .expect("pg_stat_activity")
            .get(0);
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{left} sessions of the load are still connected after 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rows that differ from what the oracle says they must be: for erased customers, the
/// oracle's row with the policies applied (activity deleted, invoices unchanged); for the
/// others, the oracle's row as it is. Returns their number and the first few.
const MISMATCHES: &str = r#"
WITH erased AS (
    SELECT key::bigint AS customer_id, executed_at
      FROM erasure.ledger WHERE subject = 'customer' AND status = 'anonymized'),
expected AS (
    SELECT e.tbl, e.id,
           CASE WHEN x.customer_id IS NULL OR e.tbl = 'billing.invoices' THEN e.row
                WHEN e.tbl = 'shop.customers' THEN e.row || jsonb_build_object(
                     'full_name', 'Xxxx', 'email', 'erased-' || e.id || '@invalid.example', 'phone', NULL,
                     'birth_date', date_trunc('year', (e.row ->> 'birth_date')::date)::date,
                     'anonymized_at', x.executed_at)
                WHEN e.tbl = 'shop.addresses' THEN e.row || '{"street": "Xxxx"}'
                WHEN e.tbl = 'shop.orders' THEN e.row || '{"ship_name": "Unknown customer", "ship_street": "Xxxx"}'
                -- shop.activity: deleted
           END AS row
      FROM public.soak_expected e LEFT JOIN erased x USING (customer_id)),
differ AS (
    SELECT tbl, id, x.row AS expected, a.row AS actual
      FROM expected x FULL JOIN public.soak_actual a USING (tbl, id)
     WHERE x.row IS DISTINCT FROM a.row)
SELECT count(*),
       coalesce((array_agg(format('%s %s: expected %s, found %s', tbl, id, expected, actual) ORDER BY tbl, id))[1:5],
                '{}')
  FROM differ
"#;

#[test]
fn erasures_beside_shop_traffic_lose_nothing_and_never_deadlock() {
    let started = Instant::now();
    let db = TestDb::empty("soak");
    let mut observer = db.connect();
    observer.batch_execute(SCHEMA).unwrap_or_else(|e| panic!("schema: {}", describe(&e)));
    observer.batch_execute(&seed(CUSTOMERS)).unwrap_or_else(|e| panic!("seed: {}", describe(&e)));
    let catalog_errors: Vec<String> = observer
        .query(
            "SELECT format('%s %s: %s', tbl, col, problem) FROM erasure.check('customer') WHERE severity = 'error'",
            &[],
        )
        .expect("erasure.check")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(catalog_errors.is_empty(), "the soak's catalog must cover every column: {catalog_errors:?}");
    let deadlocks_before = deadlocks(&mut observer, &db.name);
    let setup = started.elapsed();

    let mut order: Vec<i64> = (1..=CUSTOMERS).collect();
    order.shuffle(&mut StdRng::seed_from_u64(SEED));
    order.truncate(LEAVING);
    let targets = Arc::new(Targets { order, next: AtomicUsize::new(0) });
    let stop = Instant::now() + LOAD;
    let mut sessions = Vec::new();
    for i in 0..ERASERS {
        let (client, targets) = (db.connect(), targets.clone());
        let seed = SEED + 1 + i as u64;
        sessions.push((true, spawn(&format!("eraser {i}"), move || erase(client, &targets, seed, stop))));
    }
    for i in 0..SHOPPERS {
        let (client, targets) = (db.connect(), targets.clone());
        let seed = SEED + 101 + i as u64;
        sessions.push((false, spawn(&format!("shop session {i}"), move || shop(client, &targets, seed, stop))));
    }
    let (samples, lock_waits) = sample_lock_waits(&mut observer, &db.name, stop);
    let (mut erasures, mut traffic) = (Tally::default(), Tally::default());
    for (erasing, session) in sessions {
        let (tally, _) = session.finish(LOAD + GRACE);
        if erasing {
            erasures = erasures.merge(tally);
        } else {
            traffic = traffic.merge(tally);
        }
    }
    let load = started.elapsed() - setup;

    wait_for_sessions_to_end(&mut observer, &db.name);
    let deadlocks_counted = deadlocks(&mut observer, &db.name) - deadlocks_before;
    let row = observer
        .query_one(
            "SELECT count(*), count(l.key)
               FROM public.soak_expected e
               LEFT JOIN erasure.ledger l ON l.subject = 'customer' AND l.key = e.customer_id::text
              WHERE e.tbl = 'shop.orders' AND e.id > 2 * $1::bigint",
            &[&CUSTOMERS],
        )
        .expect("orders placed");
    let (orders_placed, orders_of_erased): (i64, i64) = (row.get(0), row.get(1));

    let figures = format!(
        "setup {setup:.1?}, load {load:.1?}\n\
         erasures: {} transactions, {} anonymized, {} already erased, {} blocked (55000), {} lock timeouts (55P03), \
         {} took > {SLOW:?}, slowest {:.1?}\n\
         shop: {} transactions: {} orders placed, {} invoices paid, {} addresses moved, {} skipped (customer erased), \
         {} with nothing to pay, {} took > {SLOW:?}, slowest {:.1?}\n\
         orders placed by the shop: {orders_placed}, of them for customers erased afterwards: {orders_of_erased}\n\
         lock waits seen in {samples} samples of pg_stat_activity: {lock_waits:?}\n\
         deadlocks: {} reported to sessions, {deadlocks_counted} counted by pg_stat_database\n\
         errors: erasures {:?}, shop {:?}",
        erasures.transactions,
        erasures.outcome("anonymized"),
        erasures.outcome("already_erased"),
        erasures.errors("55000"),
        erasures.errors("55P03"),
        erasures.slow,
        erasures.slowest,
        traffic.transactions,
        traffic.outcome("order placed"),
        traffic.outcome("invoice paid"),
        traffic.outcome("address moved"),
        traffic.outcome("customer erased: nothing written"),
        traffic.outcome("nothing to pay"),
        traffic.slow,
        traffic.slowest,
        erasures.errors("40P01") + traffic.errors("40P01"),
        erasures.errors.iter().map(|(code, (n, _))| format!("{code}: {n}")).collect::<Vec<_>>(),
        traffic.errors.iter().map(|(code, (n, _))| format!("{code}: {n}")).collect::<Vec<_>>(),
    );
    println!("soak figures:\n{figures}");

    // No deadlock, and no error but a refusal or a lock timeout (erasures) or none (shop).
    assert_eq!(erasures.errors("40P01") + traffic.errors("40P01"), 0, "deadlocks reported\n{figures}");
    assert_eq!(deadlocks_counted, 0, "pg_stat_database counted deadlocks\n{figures}");
    let unexpected = erasures.unexpected(&["55000", "55P03"]);
    assert!(unexpected.is_empty(), "erasures failed unexpectedly: {unexpected:#?}\n{figures}");
    let unexpected = traffic.unexpected(&[]);
    assert!(unexpected.is_empty(), "shop transactions failed: {unexpected:#?}\n{figures}");
    let odd: Vec<_> =
        erasures.outcomes.keys().filter(|o| !["anonymized", "already_erased"].contains(&o.as_str())).collect();
    assert!(odd.is_empty(), "erasures returned unexpected reports: {odd:?}\n{figures}");

    // The load was real: erasures done and refused, shop writes of every kind, and shop
    // sessions that met a customer erased under them.
    assert!(erasures.outcome("anonymized") >= 100, "too few erasures to prove anything\n{figures}");
    assert!(erasures.errors("55000") > 0, "no erasure was refused by a blocker\n{figures}");
    for outcome in ["order placed", "invoice paid", "address moved", "customer erased: nothing written"] {
        assert!(traffic.outcome(outcome) > 0, "no shop transaction ended with {outcome:?}\n{figures}");
    }

    // The ledger holds exactly the erasures the sessions were told of, each once.
    let mut reported = erasures.erased.clone();
    reported.sort_unstable();
    let ledger: Vec<i64> = observer
        .query("SELECT key::bigint FROM erasure.ledger WHERE subject = 'customer' ORDER BY 1", &[])
        .expect("ledger")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ledger, reported, "the ledger differs from the erasures reported to the sessions\n{figures}");

    // No erased customer had anything a blocker forbids, then or since.
    let ignored: i64 = observer
        .query_one(
            "SELECT count(*) FROM erasure.ledger l
              WHERE EXISTS (SELECT FROM billing.invoices i WHERE i.customer_id = l.key::bigint AND NOT i.paid)
                 OR EXISTS (SELECT FROM shop.orders o
                             WHERE o.customer_id = l.key::bigint AND o.status = 'awaiting_payment')",
            &[],
        )
        .expect("blockers of erased customers")
        .get(0);
    assert_eq!(ignored, 0, "erased customers with an unpaid invoice or an order awaiting payment\n{figures}");

    // Every row as the oracle says: masked for the erased, as written for everyone else,
    // invoices as written for all.
    let row = observer.query_one(MISMATCHES, &[]).unwrap_or_else(|e| panic!("comparison: {}", describe(&e)));
    let (differing, first): (i64, Vec<String>) = (row.get(0), row.get(1));
    assert_eq!(differing, 0, "rows differ from the oracle, first: {first:#?}\n{figures}");
}
