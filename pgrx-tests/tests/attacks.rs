//! Attacks on pg_erasure's security model, played by real login roles over real, separate
//! connections (the `postgres` crate). Every attack must be refused with its own SQLSTATE and
//! leave everything as it was: the attacker's `rolsuper`, the other tenant's rows with their
//! `xmin` (so even a rewrite with identical values shows), the ledger, the request queue, the
//! catalog, and the settings of the session the attack ran in.
//!
//! The attacker model: one cluster, shared by tenants that do not trust each other, and a
//! helpdesk that erases for all of them.
//!
//! - `owner_a` and `owner_b` are tenants: each is a member of `erasure_admin` and owns a schema
//!   (`tenant_a`, `tenant_b`) with its customers and its own erasure subject (`a_customer`,
//!   `b_customer`). Each is hostile to the other tenant and to the cluster. It may put any SQL
//!   into its own catalog entries (filters, `expression` policies, blocker queries), write any
//!   function, trigger, rule or operator in its own schema, redefine them after registration,
//!   and turn its own tables into views. B also keeps a secret, unregistered `payroll` table.
//! - `support` is an `erasure_operator`: it runs erasures, previews and blocker checks for
//!   both tenants without any right on their tables. It is the victim the tenants' code runs
//!   next to (its session), and an attacker of the ledger and the request queue itself.
//! - `stranger` is a login role with no grant at all; given CREATE on `public` it plants traps
//!   there.
//! - The superuser (the DBA) runs `erasure.check()` and the DDL watch runs with its rights: no
//!   tenant may borrow them.
//!
//! What the engine promises (and each test below checks from the outside): everything tied to
//! a subject runs as the owner of its table, in a security-restricted operation, under a GUC
//! nest level rolled back afterwards, with `search_path` pinned; registration only accepts what
//! the caller owns and what the subject's owner may read; the extension's tables are written
//! only by the extension; the hmac key is readable by superusers only; retained tables are
//! enforced; errors carry no personal value.
//!
//! Roles belong to the cluster: each test creates its own (`atk_<test>_...`) and drops them at
//! the end, also when it fails (`RoleGuard`). Needs a running cluster with pg_erasure installed
//! (`source scripts/cluster.sh; cluster_start`), like the other tests of this crate.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, SimpleQueryMessage};
use serde_json::Value;

/// The hmac key every test database gets (set by the superuser with erasure.set_hmac_key).
const HMAC_KEY: &str = "hmac-secret-Zq7-never-shown-0123";

/// Rows as text, from the simple query protocol (any column type).
type Rows = Vec<Vec<Option<String>>>;

// ---------------------------------------------------------------------------------------------
// The lab: a database, four login roles, two tenants registered by their owners.
// ---------------------------------------------------------------------------------------------

/// Run by the superuser in the fresh database.
const SUPERUSER_SETUP: &str = r#"
CREATE ROLE @A@ LOGIN IN ROLE erasure_admin;
CREATE ROLE @B@ LOGIN IN ROLE erasure_admin;
CREATE ROLE @SUPPORT@ LOGIN IN ROLE erasure_operator;
CREATE ROLE @STRANGER@ LOGIN;
CREATE SCHEMA tenant_a AUTHORIZATION @A@;
CREATE SCHEMA tenant_b AUTHORIZATION @B@;
-- Everyone may look names up in both schemas: what protects a tenant's tables is their own
-- privileges, which is what the attacks test.
GRANT USAGE ON SCHEMA tenant_a, tenant_b TO PUBLIC;
SELECT erasure.set_hmac_key('@KEY@');
"#;

/// Run by owner A: its shop, registered as subject a_customer. Customer 3 has an order
/// awaiting payment (blocker `unpaid`). No index on orders.customer_id: check() warns about
/// it, a finding only A's check() and the superuser's may show.
const TENANT_A: &str = r#"
CREATE TABLE tenant_a.customers (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, phone text);
CREATE TABLE tenant_a.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES tenant_a.customers,
                              status text NOT NULL, ship_name text);
CREATE TABLE tenant_a.invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES tenant_a.customers,
                                billed_name text NOT NULL, total numeric(10, 2) NOT NULL);
CREATE INDEX ON tenant_a.invoices (customer_id);
INSERT INTO tenant_a.customers VALUES
    (1, 'Alice Almeida', 'alice@example.com', '+55 11 91234-5678'),
    (2, 'Bruno Barros', 'bruno@example.com', '+55 21 99876-5432'),
    (3, 'Carla Costa', 'carla@example.com', NULL);
INSERT INTO tenant_a.orders VALUES
    (101, 1, 'shipped', 'Alice Almeida'), (201, 2, 'delivered', 'Bruno Barros'),
    (301, 3, 'awaiting_payment', 'Carla Costa');
INSERT INTO tenant_a.invoices VALUES (1, 1, 'Alice Almeida', 59.90), (2, 2, 'Bruno Barros', 12.00);
SELECT erasure.register_subject('a_customer', 'tenant_a.customers');
SELECT erasure.register_table('a_customer', 'tenant_a.orders');
SELECT erasure.register_table('a_customer', 'tenant_a.invoices', 'retain', reason => 'bookkeeping law');
SELECT erasure.set_policy('tenant_a.customers', 'name', 'constant', '{"value": "Xxxx"}');
SELECT erasure.set_policy('tenant_a.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');
SELECT erasure.set_policy('tenant_a.customers', 'phone', 'null');
SELECT erasure.set_policy('tenant_a.orders', 'id', 'keep');
SELECT erasure.set_policy('tenant_a.orders', 'status', 'keep');
SELECT erasure.set_policy('tenant_a.orders', 'ship_name', 'constant', '{"value": "Unknown customer"}');
SELECT erasure.register_blocker('a_customer', 'unpaid',
    $$SELECT o.id, o.status, o.ship_name FROM tenant_a.orders o WHERE o.customer_id = $1 AND o.status = 'awaiting_payment'$$,
    'an order is awaiting payment');
"#;

/// Run by owner B: its shop (subject b_customer, customer 2 blocked by a disputed order) and
/// its secret payroll, registered nowhere.
const TENANT_B: &str = r#"
CREATE TABLE tenant_b.customers (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE);
CREATE TABLE tenant_b.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES tenant_b.customers,
                              status text NOT NULL, ship_name text);
CREATE TABLE tenant_b.payroll (id integer PRIMARY KEY, secret text NOT NULL);
INSERT INTO tenant_b.customers VALUES (1, 'Beatriz Borges', 'beatriz@example.org'), (2, 'Diego Dias', 'diego@example.org');
INSERT INTO tenant_b.orders VALUES (11, 1, 'shipped', 'Beatriz Borges'), (21, 2, 'disputed', 'Diego Dias');
INSERT INTO tenant_b.payroll VALUES (1, 'salary 9000');
SELECT erasure.register_subject('b_customer', 'tenant_b.customers');
SELECT erasure.register_table('b_customer', 'tenant_b.orders');
SELECT erasure.set_policy('tenant_b.customers', 'name', 'constant', '{"value": "Yyyy"}');
SELECT erasure.set_policy('tenant_b.customers', 'email', 'placeholder', '{"template": "gone-{key}@invalid.example"}');
SELECT erasure.set_policy('tenant_b.orders', 'id', 'keep');
SELECT erasure.set_policy('tenant_b.orders', 'status', 'keep');
SELECT erasure.set_policy('tenant_b.orders', 'ship_name', 'null');
SELECT erasure.register_blocker('b_customer', 'disputed',
    $$SELECT o.id FROM tenant_b.orders o WHERE o.customer_id = $1 AND o.status = 'disputed'$$);
"#;

/// Run by owner A: operators in tenant_a shadowing those of pg_catalog for the types the
/// engine's own statements compare (text, bigint, jsonb). Each logs who ran it and, if that
/// role may, makes A a superuser; then it returns the right answer, so nothing looks wrong.
/// They are live for any statement that resolves an unqualified operator while tenant_a is
/// first on the search_path, which A's own code can arrange with set_config(..., false).
const TRAPS_IN_TENANT_A: &str = r#"
CREATE TABLE tenant_a.trap_log (op text, run_as name, session_role name);
GRANT INSERT ON tenant_a.trap_log TO PUBLIC;
CREATE FUNCTION tenant_a.escalate(op text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_a.trap_log VALUES (op, current_user, session_user);
    BEGIN
        EXECUTE 'ALTER ROLE @A@ SUPERUSER';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
END $$;
CREATE FUNCTION tenant_a.trap_text_eq(l text, r text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM tenant_a.escalate('text = text'); RETURN l OPERATOR(pg_catalog.=) r; END $$;
CREATE OPERATOR tenant_a.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tenant_a.trap_text_eq);
CREATE FUNCTION tenant_a.trap_text_ne(l text, r text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM tenant_a.escalate('text <> text'); RETURN l OPERATOR(pg_catalog.<>) r; END $$;
CREATE OPERATOR tenant_a.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = tenant_a.trap_text_ne);
CREATE FUNCTION tenant_a.trap_int8_eq(l bigint, r bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM tenant_a.escalate('bigint = bigint'); RETURN l OPERATOR(pg_catalog.=) r; END $$;
CREATE OPERATOR tenant_a.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = tenant_a.trap_int8_eq);
CREATE FUNCTION tenant_a.trap_jsonb_field(j jsonb, f text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM tenant_a.escalate('jsonb ->> text'); RETURN j OPERATOR(pg_catalog.->>) f; END $$;
CREATE OPERATOR tenant_a.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = tenant_a.trap_jsonb_field);
CREATE FUNCTION tenant_a.trap_text_cat(l text, r text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM tenant_a.escalate('text || text'); RETURN l OPERATOR(pg_catalog.||) r; END $$;
CREATE OPERATOR tenant_a.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = tenant_a.trap_text_cat);
"#;

/// Drops the test's roles at the end, whatever happened: first what they own in the test
/// database (DROP OWNED), then the roles. Best effort.
struct RoleGuard {
    db: String,
    roles: Vec<String>,
}

impl Drop for RoleGuard {
    fn drop(&mut self) {
        if let Ok(mut client) = config(&self.db).connect(NoTls) {
            for role in &self.roles {
                let _ = client.batch_execute(&format!("DROP OWNED BY {role} CASCADE"));
            }
        }
        let maintenance = std::env::var("PGDATABASE").unwrap_or_else(|_| "postgres".into());
        if let Ok(mut client) = config(&maintenance).connect(NoTls) {
            for role in &self.roles {
                let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
            }
        }
    }
}

/// A test's database with its tenants. Fields drop in order: the roles, then the database.
struct Lab {
    a: String,
    b: String,
    support: String,
    stranger: String,
    _roles: RoleGuard,
    db: TestDb,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let db = TestDb::empty(&format!("atk_{tag}"));
        let [a, b, support, stranger] = ["owner_a", "owner_b", "support", "stranger"].map(|r| format!("atk_{tag}_{r}"));
        // Leftovers of an earlier run that crashed (the roles of a fresh cluster never exist).
        if let Ok(mut maintenance) =
            config(&std::env::var("PGDATABASE").unwrap_or_else(|_| "postgres".into())).connect(NoTls)
        {
            for role in [&a, &b, &support, &stranger] {
                let _ = maintenance.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
            }
        }
        let guard =
            RoleGuard { db: db.name.clone(), roles: vec![a.clone(), b.clone(), support.clone(), stranger.clone()] };
        let lab = Lab { a, b, support, stranger, _roles: guard, db };
        let mut su = lab.su();
        // The extension's group roles belong to the cluster: databases of tests running in
        // parallel may race to create them (23505); the loser tries again.
        for attempt in 1.. {
            match su.batch_execute("CREATE EXTENSION pg_erasure") {
                Ok(()) => break,
                Err(e) if attempt < 5 && sqlstate(&e) == "23505" => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => panic!("CREATE EXTENSION pg_erasure: {}", describe(&e)),
            }
        }
        su.batch_execute(&lab.sql(SUPERUSER_SETUP)).unwrap_or_else(|e| panic!("superuser setup: {}", describe(&e)));
        lab.owner_a().batch_execute(&lab.sql(TENANT_A)).unwrap_or_else(|e| panic!("tenant A setup: {}", describe(&e)));
        lab.owner_b().batch_execute(&lab.sql(TENANT_B)).unwrap_or_else(|e| panic!("tenant B setup: {}", describe(&e)));
        lab
    }

    /// `sql` with the lab's role names and the hmac key in place of @A@, @B@, @SUPPORT@,
    /// @STRANGER@ and @KEY@.
    fn sql(&self, sql: &str) -> String {
        sql.replace("@A@", &self.a)
            .replace("@B@", &self.b)
            .replace("@SUPPORT@", &self.support)
            .replace("@STRANGER@", &self.stranger)
            .replace("@KEY@", HMAC_KEY)
    }

    /// Everything the attacks of this lab could change (`world`).
    fn world(&self, su: &mut Client) -> BTreeMap<String, String> {
        world(su, &[&self.a, &self.b, &self.support, &self.stranger, "erasure_operator", "erasure_admin"])
    }

    fn su(&self) -> Client {
        self.db.connect()
    }

    fn connect_as(&self, role: &str) -> Client {
        config(&self.db.name)
            .user(role)
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {} as {role}: {}", self.db.name, describe(&e)))
    }

    fn owner_a(&self) -> Client {
        self.connect_as(&self.a)
    }

    fn owner_b(&self) -> Client {
        self.connect_as(&self.b)
    }

    fn support(&self) -> Client {
        self.connect_as(&self.support)
    }

    fn stranger(&self) -> Client {
        self.connect_as(&self.stranger)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn rows(client: &mut Client, sql: &str) -> Result<Rows, postgres::Error> {
    let mut rows = Vec::new();
    for message in client.simple_query(sql)? {
        if let SimpleQueryMessage::Row(row) = message {
            rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
        }
    }
    Ok(rows)
}

/// Runs `sql`, which must succeed.
fn ok(client: &mut Client, sql: &str) -> Rows {
    rows(client, sql).unwrap_or_else(|e| panic!("`{sql}` failed: {}", describe(&e)))
}

/// The first column of the first row of `sql`, which must succeed and return a row.
fn one(client: &mut Client, sql: &str) -> Option<String> {
    let rows = ok(client, sql);
    rows.first().unwrap_or_else(|| panic!("`{sql}` returned no row")).first().cloned().flatten()
}

fn sqlstate(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_else(|| format!("(no SQLSTATE: {e})"))
}

/// Runs an attack that must fail with SQLSTATE `expected`; returns the error.
fn refused(client: &mut Client, sql: &str, expected: &str, what: &str) -> postgres::Error {
    match rows(client, sql) {
        Ok(rows) => {
            panic!("ATTACK GOT THROUGH ({what}): `{sql}` succeeded and returned {rows:?}; expected SQLSTATE {expected}")
        }
        Err(e) => {
            assert_eq!(sqlstate(&e), expected, "{what}: `{sql}` was refused, but with {}", describe(&e));
            e
        }
    }
}

/// Every field of an error a client sees, for checks that none holds a value it must not.
fn everything(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "message: {} | detail: {:?} | hint: {:?} | where: {:?} | schema: {:?} | table: {:?} | column: {:?} | \
             datatype: {:?} | constraint: {:?} | routine: {:?}",
            db.message(),
            db.detail(),
            db.hint(),
            db.where_(),
            db.schema(),
            db.table(),
            db.column(),
            db.datatype(),
            db.constraint(),
            db.routine()
        ),
        None => e.to_string(),
    }
}

/// A single-quoted SQL literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every row of `table` with its inserting transaction: any write, even of identical values,
/// changes it.
fn state(client: &mut Client, table: &str) -> String {
    one(
        client,
        &format!(
            "SELECT coalesce(string_agg(t::text || ' @' || t.xmin::text, ' ; ' ORDER BY t::text), '') FROM {table} t"
        ),
    )
    .unwrap_or_default()
}

/// Everything an attack could change, read by the superuser: every table of both tenants, of
/// the extension (catalog, ledger, request queue, hmac key) and of public, with xmin; and the
/// attributes and memberships of `roles` (the test's own and the extension's group roles:
/// other tests create and drop theirs meanwhile).
fn world(su: &mut Client, roles: &[&str]) -> BTreeMap<String, String> {
    let tables = ok(
        su,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('tenant_a', 'tenant_b', 'erasure', 'public') ORDER BY 1",
    );
    let mut world = BTreeMap::new();
    for table in tables.into_iter().filter_map(|r| r.into_iter().next().flatten()) {
        let rows = state(su, &table);
        world.insert(table, rows);
    }
    world.insert(
        "(roles)".into(),
        one(
            su,
            &format!(
                r"SELECT string_agg(format('%s super=%s createrole=%s bypassrls=%s member_of=%s', r.rolname, r.rolsuper,
                                      r.rolcreaterole, r.rolbypassrls,
                                      (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
                                         JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)), '; ' ORDER BY r.rolname)
               FROM pg_roles r WHERE r.rolname IN ({})",
                roles.iter().map(|r| literal(r)).collect::<Vec<_>>().join(", ")
            ),
        )
        .unwrap_or_default(),
    );
    world
}

fn assert_unchanged(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>, what: &str) {
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}:\n    before: {:?}\n    after:  {:?}", before.get(k), after.get(k)))
        .collect();
    assert!(changed.is_empty(), "{what} changed something:\n  {}", changed.join("\n  "));
}

fn rolsuper(su: &mut Client, role: &str) -> bool {
    one(su, &format!("SELECT rolsuper::text FROM pg_roles WHERE rolname = {}", literal(role))).as_deref()
        == Some("true")
}

/// The jsonb a statement returns, parsed (the statement selects it as text).
fn json(client: &mut Client, sql: &str) -> Result<Value, postgres::Error> {
    let text = rows(client, sql)?.into_iter().next().and_then(|r| r.into_iter().next().flatten()).unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{sql}` returned no json ({e}): {text}")))
}

fn erase(client: &mut Client, subject: &str, key: i64) -> Result<Value, postgres::Error> {
    json(client, &format!("SELECT erasure.anonymize({}, {key})::text", literal(subject)))
}

/// An erasure that must succeed with status anonymized; returns its report.
fn erased(client: &mut Client, subject: &str, key: i64) -> Value {
    let report = erase(client, subject, key).unwrap_or_else(|e| panic!("erasure of {subject} {key}: {}", describe(&e)));
    assert_eq!(report["status"], "anonymized", "erasure of {subject} {key}: {report}");
    report
}

fn customer_a(su: &mut Client, id: i64) -> Vec<Option<String>> {
    ok(su, &format!("SELECT name, email, phone FROM tenant_a.customers WHERE id = {id}")).remove(0)
}

fn customer_b(su: &mut Client, id: i64) -> Vec<Option<String>> {
    ok(su, &format!("SELECT name, email FROM tenant_b.customers WHERE id = {id}")).remove(0)
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// Settings of the operator's session that catalog code might try to leave behind.
const WATCHED_SETTINGS: [&str; 8] = [
    "search_path",
    "default_transaction_isolation",
    "work_mem",
    "lock_timeout",
    "statement_timeout",
    "application_name",
    "row_security",
    "role",
];

fn settings(client: &mut Client) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = WATCHED_SETTINGS
        .iter()
        .map(|name| (name.to_string(), one(client, &format!("SELECT current_setting('{name}')")).unwrap_or_default()))
        .collect();
    all.push(("current_user".into(), one(client, "SELECT current_user::text").unwrap_or_default()));
    all.push(("session_user".into(), one(client, "SELECT session_user::text").unwrap_or_default()));
    all
}

// ---------------------------------------------------------------------------------------------
// What must keep working
// ---------------------------------------------------------------------------------------------

/// The positive cases the attacks must not cost: the operator previews, lists blockers and
/// erases a tenant's customer without any right on its tables; the owner replays its own
/// ledger export; the superuser checks every subject; each tenant's check() sees only its own.
#[test]
fn operator_erases_owner_replays_superuser_checks() {
    let lab = Lab::new("ok");
    let mut su = lab.su();
    let mut support = lab.support();

    let preview = json(&mut support, "SELECT erasure.erasure_preview(1, 'a_customer')::text")
        .unwrap_or_else(|e| panic!("preview: {}", describe(&e)));
    assert_eq!(preview["decision"], "anonymize", "preview: {preview}");
    let blockers = ok(&mut support, "SELECT blocker FROM erasure.erasure_blockers(3, 'a_customer')");
    assert_eq!(blockers, vec![vec![s("unpaid")]]);

    let invoices = state(&mut su, "tenant_a.invoices");
    erased(&mut support, "a_customer", 1);
    assert_eq!(customer_a(&mut su, 1), vec![s("Xxxx"), s("erased-1@invalid.example"), None]);
    assert_eq!(state(&mut su, "tenant_a.invoices"), invoices, "retained invoices changed");
    assert_eq!(
        ok(&mut su, "SELECT executed_by::text, requested_by::text FROM erasure.ledger WHERE subject = 'a_customer' AND key = '1'"),
        vec![vec![Some(lab.support.clone()), Some(lab.support.clone())]]
    );
    // The operator cannot read the tables it erased.
    refused(&mut support, "SELECT * FROM tenant_a.customers", "42501", "operator reads a tenant's customers");

    // The owner replays its own export: the ledger has the erasure, so it is present.
    let mut a = lab.owner_a();
    let export = one(&mut a, "SELECT erasure.ledger_export()::text").expect("an export");
    let replayed = ok(&mut a, &format!("SELECT subject, key, status FROM erasure.replay({}::jsonb)", literal(&export)));
    assert_eq!(replayed, vec![vec![s("a_customer"), s("1"), s("present")]]);

    // The superuser checks every subject; each tenant only its own.
    let all = ok(&mut su, "SELECT severity, tbl::text, col::text, problem FROM erasure.check()");
    assert!(!all.iter().any(|r| r[0].as_deref() == Some("error")), "the lab's catalog has errors: {all:?}");
    for tenant in ["tenant_a.orders", "tenant_b.orders"] {
        assert!(
            all.iter().any(|r| r[1].as_deref() == Some(tenant)),
            "the superuser's check() misses {tenant}: {all:?}"
        );
    }
    let mut b = lab.owner_b();
    let mine = ok(&mut b, "SELECT severity, tbl::text, col::text, problem FROM erasure.check()");
    assert!(
        mine.iter().any(|r| r[1].as_deref() == Some("tenant_b.orders")),
        "B's check() misses its own table: {mine:?}"
    );
    assert!(
        !mine.iter().any(|r| r[1].as_deref().is_some_and(|t| t.starts_with("tenant_a."))),
        "B's check() shows A's tables: {mine:?}"
    );
    refused(&mut a, "SELECT * FROM erasure.check('b_customer')", "42501", "A checks B's subject");
    refused(&mut lab.stranger(), "SELECT * FROM erasure.check()", "42501", "a stranger runs check()");

    // B's customer too, by the same operator.
    erased(&mut support, "b_customer", 1);
    assert_eq!(customer_b(&mut su, 1), vec![s("Yyyy"), s("gone-1@invalid.example")]);
}

// ---------------------------------------------------------------------------------------------
// 1. A tenant tries to become superuser through check() and the DDL watch
// ---------------------------------------------------------------------------------------------

/// Owner A registers an empty table with a kept text column, then turns it into a view whose
/// `_RETURN` rule calls A's own SECURITY INVOKER function running `ALTER ROLE A SUPERUSER`:
/// whoever reads the "table" with superuser rights makes A a superuser. check() samples kept
/// text columns; the DDL watch runs check() as the extension's owner; strict mode runs it
/// before erasures; the superuser may preview and erase. A must never become superuser, and
/// B's payroll is untouched.
#[test]
fn owner_cannot_become_superuser_through_check_or_the_ddl_watch() {
    let lab = Lab::new("view");
    let mut su = lab.su();
    let mut a = lab.owner_a();
    a.batch_execute(&lab.sql(
        r#"
        CREATE TABLE tenant_a.notes (customer_id bigint, remark text);
        SELECT erasure.register_table('a_customer', 'tenant_a.notes', via => '{}', filter => 'customer_id = $1');
        SELECT erasure.set_policy('tenant_a.notes', 'customer_id', 'keep');
        SELECT erasure.set_policy('tenant_a.notes', 'remark', 'keep');
        CREATE FUNCTION tenant_a.become_superuser() RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
            EXECUTE 'ALTER ROLE @A@ SUPERUSER';
            RETURN 'pwned';
        END $$;
        CREATE RULE "_RETURN" AS ON SELECT TO tenant_a.notes DO INSTEAD
            SELECT CAST(NULL AS bigint) AS customer_id, tenant_a.become_superuser() AS remark;
        GRANT SELECT ON tenant_a.notes TO PUBLIC;
        "#,
    ))
    .unwrap_or_else(|e| panic!("A's view trap: {}", describe(&e)));
    assert_eq!(
        one(&mut su, "SELECT relkind::text FROM pg_class WHERE oid = 'tenant_a.notes'::regclass"),
        s("v"),
        "the registered table should now be a view"
    );
    // The trap is live: whoever reads the view runs A's function with their own rights.
    let e = refused(&mut a, "SELECT remark FROM tenant_a.notes", "42501", "A reads its own view");
    assert!(everything(&e).contains("superuser"), "the trap should fail on ALTER ROLE: {}", describe(&e));
    let before_b = [state(&mut su, "tenant_b.payroll"), state(&mut su, "tenant_b.customers")];

    let check_step = |su: &mut Client, step: &str| {
        assert!(!rolsuper(su, &lab.a), "ATTACK GOT THROUGH: {} became superuser after {step}", lab.a);
    };

    // (a) DDL on a registered table (and a new table referencing one): the DDL watch runs
    // check() as the extension's owner, and never makes DDL fail.
    a.batch_execute("ALTER TABLE tenant_a.orders ADD COLUMN gift_note text")
        .unwrap_or_else(|e| panic!("the DDL watch made A's ALTER TABLE fail: {}", describe(&e)));
    check_step(&mut su, "A's ALTER TABLE (DDL watch)");
    a.batch_execute(
        "CREATE TABLE tenant_a.extra (id bigint PRIMARY KEY, customer_id bigint REFERENCES tenant_a.customers)",
    )
    .unwrap_or_else(|e| panic!("the DDL watch made A's CREATE TABLE fail: {}", describe(&e)));
    check_step(&mut su, "A's CREATE TABLE referencing a registered table (DDL watch)");

    // (b) The superuser checks everything, and suggests policies for A.
    let checked = rows(&mut su, "SELECT severity, tbl::text, col::text, problem FROM erasure.check()");
    check_step(&mut su, "the superuser's check()");
    let checked = checked.unwrap_or_else(|e| panic!("the superuser's check() failed: {}", describe(&e)));
    assert!(
        checked.iter().any(|r| r[1].as_deref() == Some("tenant_a.notes") && r[0].as_deref() == Some("error")),
        "check() should report that tenant_a.notes is no longer a table: {checked:?}"
    );
    let _ = rows(&mut su, "SELECT * FROM erasure.suggest_policies('a_customer')");
    check_step(&mut su, "the superuser's suggest_policies('a_customer')");
    let _ = rows(&mut su, "SELECT * FROM erasure.check('a_customer')");
    check_step(&mut su, "the superuser's check('a_customer')");

    // (c) Owner B checks its own subjects, and runs DDL of its own.
    let mut b = lab.owner_b();
    let b_checked = rows(&mut b, "SELECT severity, tbl::text, col::text, problem FROM erasure.check()");
    check_step(&mut su, "B's check()");
    let b_checked = b_checked.unwrap_or_else(|e| panic!("B's check() failed: {}", describe(&e)));
    assert!(
        !b_checked.iter().any(|r| r[1].as_deref().is_some_and(|t| t.starts_with("tenant_a."))),
        "B's check() shows A's tables: {b_checked:?}"
    );
    b.batch_execute("ALTER TABLE tenant_b.orders ADD COLUMN gift_note text")
        .unwrap_or_else(|e| panic!("the DDL watch made B's ALTER TABLE fail: {}", describe(&e)));
    check_step(&mut su, "B's ALTER TABLE (DDL watch)");

    // (d) Strict mode: check() runs before the operator's erasure of A's customer.
    su.batch_execute(&format!("ALTER DATABASE {} SET erasure.require_complete = on", lab.db.name)).unwrap();
    let mut support = lab.support();
    let attempt = erase(&mut support, "a_customer", 1);
    check_step(&mut su, "the operator's erasure of A's customer in strict mode");
    assert!(attempt.is_err(), "an erasure through a registered table that became a view succeeded: {attempt:?}");

    // (e) The superuser itself previews, scans and erases A's customer.
    let mut dba = lab.su();
    for sql in [
        "SELECT erasure.erasure_preview(1, 'a_customer')::text",
        "SELECT * FROM erasure.residual_scan(1, 'a_customer')",
        "SELECT * FROM erasure.erasure_blockers(1, 'a_customer')",
        "SELECT erasure.anonymize('a_customer', 1)::text",
        "SELECT * FROM erasure.release_expired()",
    ] {
        let _ = rows(&mut dba, sql);
        check_step(&mut su, &format!("the superuser's `{sql}`"));
    }

    assert!(!rolsuper(&mut su, &lab.a), "ATTACK GOT THROUGH: {} is a superuser", lab.a);
    assert_eq!(
        [state(&mut su, "tenant_b.payroll"), state(&mut su, "tenant_b.customers")],
        before_b,
        "B's payroll or customers changed"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The hmac key
// ---------------------------------------------------------------------------------------------

/// The hmac key, set by the superuser with erasure.set_hmac_key(), never reaches anyone else:
/// not through SHOW or current_setting() (with or without the library loaded in the session),
/// not through pg_settings, not by reading erasure.hmac_key, not through an erasure's report,
/// ledger row or preview, not as a parameter an `expression` policy could name, not through a
/// trigger watching the erasure's statement. Nobody but a superuser may set it.
#[test]
fn the_hmac_key_stays_hidden_from_every_role() {
    let lab = Lab::new("hmac");
    let mut su = lab.su();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut leaks = |who: &str, what: &str, text: String| {
        assert!(!text.contains(HMAC_KEY), "ATTACK GOT THROUGH: the hmac key reached {who} through {what}: {text}");
        outputs.push((format!("{who}: {what}"), text));
    };
    let before = lab.world(&mut su);

    for (role, loads) in [
        (&lab.stranger, "SELECT erasure.hmac_sha256('x', 'y')"),
        (&lab.support, "SELECT erasure.is_erased('a_customer', 1)::text"),
        (&lab.a, "SELECT erasure.is_erased('a_customer', 1)::text"),
        (&lab.b, "SELECT erasure.is_erased('b_customer', 1)::text"),
    ] {
        let role = role.as_str();
        let mut c = lab.connect_as(role);
        // A fresh session: the library is not loaded, erasure.* settings are unknown.
        let e = refused(
            &mut c,
            "SHOW erasure.hmac_key",
            "42704",
            &format!("{role} shows erasure.hmac_key, library not loaded"),
        );
        leaks(role, "SHOW before load", everything(&e));
        for (sql, what) in [
            ("SELECT current_setting('erasure.hmac_key', true)", "current_setting"),
            ("SELECT name, setting, reset_val, boot_val FROM pg_settings WHERE name LIKE 'erasure.%'", "pg_settings"),
        ] {
            leaks(role, &format!("{what} before load"), format!("{:?}", ok(&mut c, sql)));
        }
        for sql in [
            "SELECT key FROM erasure.hmac_key",
            "SELECT * FROM erasure.hmac_key",
            "UPDATE erasure.hmac_key SET key = 'attacker-chosen-key-0000'",
            "DELETE FROM erasure.hmac_key",
            "SELECT erasure.set_hmac_key('attacker-chosen-key-0000')",
        ] {
            let e = refused(&mut c, sql, "42501", &format!("{role}: {sql}"));
            leaks(role, sql, everything(&e));
        }
        // LOAD is refused to non-superusers; an erasure function loads the library anyway.
        match rows(&mut c, "LOAD 'pg_erasure'") {
            Ok(r) => leaks(role, "LOAD", format!("{r:?}")),
            Err(e) => leaks(role, "LOAD", everything(&e)),
        }
        leaks(role, "a call loading the library", format!("{:?}", ok(&mut c, loads)));
        match rows(&mut c, "SHOW erasure.hmac_key") {
            Ok(r) => panic!("ATTACK GOT THROUGH: {role} may SHOW erasure.hmac_key once the library is loaded: {r:?}"),
            Err(e) => leaks(role, "SHOW after load", everything(&e)),
        }
        for (sql, what) in [
            ("SELECT current_setting('erasure.hmac_key', true)", "current_setting after load"),
            (
                "SELECT name, setting, reset_val, boot_val FROM pg_settings WHERE name LIKE 'erasure.%'",
                "pg_settings after load",
            ),
        ] {
            match rows(&mut c, sql) {
                Ok(r) => leaks(role, what, format!("{r:?}")),
                Err(e) => leaks(role, what, everything(&e)),
            }
        }
    }
    // Even the superuser finds no such setting; the key is in the table only it may read.
    let mut dba = lab.su();
    ok(&mut dba, "LOAD 'pg_erasure'");
    assert!(rows(&mut dba, "SHOW erasure.hmac_key").is_err(), "erasure.hmac_key is a setting again");
    let names = ok(&mut dba, "SELECT name FROM pg_settings WHERE name LIKE 'erasure.%' ORDER BY 1");
    assert!(
        !names.iter().any(|r| r[0].as_deref() == Some("erasure.hmac_key")),
        "a setting erasure.hmac_key exists: {names:?}"
    );
    assert_eq!(one(&mut dba, "SELECT key FROM erasure.hmac_key"), s(HMAC_KEY));
    assert_unchanged(&before, &lab.world(&mut su), "the attempts on the hmac key");

    // The pure function is everyone's, and harmless without the key.
    assert_eq!(
        one(&mut lab.stranger(), "SELECT erasure.hmac_sha256('The quick brown fox jumps over the lazy dog', 'key')"),
        s("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    );

    // A tenant cannot name the key's parameter in an expression policy.
    let mut a = lab.owner_a();
    let before = lab.world(&mut su);
    for n in 1..=6 {
        let sql = format!(
            r#"SELECT erasure.set_policy('tenant_a.orders', 'ship_name', 'expression', '{{"sql": "CAST(${n} AS text)"}}')"#
        );
        let e = refused(&mut a, &sql, "42P02", &format!("A's expression policy naming parameter ${n}"));
        leaks(lab.a.as_str(), "an expression naming a parameter", everything(&e));
    }
    assert_unchanged(&before, &lab.world(&mut su), "the expression policies naming parameters");

    // A watches its own table during an erasure with an hmac policy: the trigger sees the
    // statement and both rows, never the key.
    a.batch_execute(
        r#"
        CREATE TABLE tenant_a.loot (what text);
        CREATE FUNCTION tenant_a.watch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO tenant_a.loot VALUES (pg_catalog.current_query()), (CAST(OLD AS text)), (CAST(NEW AS text)),
                   (pg_catalog.current_setting('search_path')), (CAST(TG_ARGV AS text));
            RETURN NEW;
        END $$;
        CREATE TRIGGER watch BEFORE UPDATE ON tenant_a.customers FOR EACH ROW EXECUTE FUNCTION tenant_a.watch();
        SELECT erasure.set_policy('tenant_a.customers', 'phone', 'hmac');
        "#,
    )
    .unwrap_or_else(|e| panic!("A's watching trigger: {}", describe(&e)));
    let mut support = lab.support();
    leaks(
        lab.support.as_str(),
        "a preview",
        one(&mut support, "SELECT erasure.erasure_preview(1, 'a_customer')::text").unwrap(),
    );
    let report = erased(&mut support, "a_customer", 1);
    leaks(lab.support.as_str(), "the erasure report", report.to_string());
    leaks(
        lab.support.as_str(),
        "the ledger",
        format!("{:?}", ok(&mut support, "SELECT l::text FROM erasure.ledger l")),
    );
    leaks(lab.a.as_str(), "its trigger's loot", format!("{:?}", ok(&mut a, "SELECT what FROM tenant_a.loot")));
    leaks(
        lab.a.as_str(),
        "its own masked row",
        format!("{:?}", ok(&mut a, "SELECT t::text FROM tenant_a.customers t")),
    );
    assert_eq!(ok(&mut a, "SELECT count(*)::text FROM tenant_a.loot")[0][0], s("5"), "A's trigger did not fire");
    // And the key was used: the masked phone is the hmac of the old one under it.
    assert_eq!(
        one(&mut su, "SELECT phone FROM tenant_a.customers WHERE id = 1"),
        one(&mut su, &format!("SELECT erasure.hmac_sha256('+55 11 91234-5678', {})", literal(HMAC_KEY)))
    );
    eprintln!("hmac: {} outputs checked", outputs.len());
}

// ---------------------------------------------------------------------------------------------
// 3. A tenant's catalog SQL reaching another tenant or the ledger
// ---------------------------------------------------------------------------------------------

/// Owner A's catalog SQL (a blocker query, an expression policy, a filter) runs with A's rights
/// only. Written plainly it is refused at registration (42501); hidden in A's own functions,
/// redefined after registration, it fails at erasure time (42501) when it reads B's payroll,
/// writes B's customers, or forges a ledger row or a request, whoever calls the erasure (the
/// operator directly, or through the SECURITY DEFINER request functions). B's rows (with
/// xmin), the ledger and the queue stay unchanged, and B's erasure still works.
#[test]
fn catalog_sql_of_one_tenant_cannot_reach_another_tenant_or_the_ledger() {
    let lab = Lab::new("cross");
    let mut su = lab.su();
    let mut a = lab.owner_a();
    a.batch_execute(
        r#"
        CREATE TABLE tenant_a.loot (what text);
        -- Guest orders hold the customer's id without a foreign key: a filter finds them.
        CREATE TABLE tenant_a.guest_orders (id bigint PRIMARY KEY, customer_ref bigint, guest_email text, ship_name text);
        INSERT INTO tenant_a.guest_orders VALUES (1, 1, 'alice@example.com', 'Alice'), (2, NULL, 'zoe@example.com', 'Zoe');
        CREATE FUNCTION tenant_a.blocker_hook(k bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN false; END $$;
        CREATE FUNCTION tenant_a.mask_hook(v text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'Unknown customer'; END $$;
        CREATE FUNCTION tenant_a.filter_hook(k bigint, ref bigint) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN RETURN ref = k; END $$;
        SELECT erasure.register_table('a_customer', 'tenant_a.guest_orders', via => '{}',
                                      filter => 'tenant_a.filter_hook($1, customer_ref)');
        SELECT erasure.set_policy('tenant_a.guest_orders', 'id', 'keep');
        SELECT erasure.set_policy('tenant_a.guest_orders', 'customer_ref', 'keep');
        SELECT erasure.set_policy('tenant_a.guest_orders', 'guest_email', 'null');
        SELECT erasure.set_policy('tenant_a.guest_orders', 'ship_name', 'expression', '{"sql": "tenant_a.mask_hook(ship_name)"}');
        SELECT erasure.register_blocker('a_customer', 'hooked', 'SELECT 1 AS hooked WHERE tenant_a.blocker_hook($1)');
        "#,
    )
    .unwrap_or_else(|e| panic!("A's hooks: {}", describe(&e)));

    // Written plainly: refused at registration.
    let before = lab.world(&mut su);
    for (sql, expected, what) in [
        (
            "SELECT erasure.register_blocker('a_customer', 'leak', 'SELECT p.secret FROM tenant_b.payroll p WHERE $1 IS NOT NULL')",
            "42501",
            "blocker reading B's payroll",
        ),
        (
            "SELECT erasure.register_blocker('a_customer', 'leak', 'SELECT c.name FROM tenant_b.customers c WHERE c.id = $1')",
            "42501",
            "blocker reading B's customers",
        ),
        (
            r#"SELECT erasure.set_policy('tenant_a.customers', 'phone', 'expression', '{"sql": "(SELECT p.secret FROM tenant_b.payroll p LIMIT 1)"}')"#,
            "42501",
            "expression reading B's payroll",
        ),
        (
            "SELECT erasure.register_table('a_customer', 'tenant_a.guest_orders', via => '{}',
                    filter => 'EXISTS (SELECT FROM tenant_b.payroll p WHERE p.id = $1)')",
            "42501",
            "filter reading B's payroll",
        ),
        (
            "SELECT erasure.register_blocker('a_customer', 'forge', 'WITH f AS (INSERT INTO erasure.ledger (subject, key, status, mode,
                    requested_by, executed_by, executed_at, tables) VALUES (''b_customer'', ''2'', ''anonymized'', ''anonymize'',
                    ''x'', ''x'', now(), ''[]'') RETURNING 1) SELECT 1 FROM f WHERE $1 IS NOT NULL')",
            "22023",
            "blocker writing the ledger in a WITH",
        ),
        ("SELECT erasure.register_subject('a_payroll', 'tenant_b.payroll')", "42501", "A registers B's payroll as a subject"),
        (
            "SELECT erasure.register_table('a_customer', 'tenant_b.payroll', via => '{}', filter => 'id = $1')",
            "42501",
            "A registers B's payroll under its subject",
        ),
        ("SELECT erasure.register_table('b_customer', 'tenant_a.loot', via => '{}', filter => 'what IS NULL')", "42501", "A registers into B's subject"),
        ("SELECT erasure.set_policy('tenant_b.customers', 'name', 'keep')", "42501", "A sets a policy of B's table"),
        ("SELECT erasure.drop_policy('tenant_b.customers', 'name')", "42501", "A drops a policy of B's table"),
        ("SELECT erasure.register_blocker('b_customer', 'never', 'SELECT 1 WHERE $1 IS NULL')", "42501", "A replaces B's blockers"),
    ] {
        refused(&mut a, sql, expected, what);
    }
    assert_unchanged(&before, &lab.world(&mut su), "A's registration attempts");

    // Hidden in A's functions, redefined after registration: fails when it runs.
    let mut support = lab.support();
    assert_eq!(
        ok(&mut support, "SELECT erasure.request('a_customer', '1')::text").len(),
        1,
        "the operator files a request"
    );
    ok(&mut su, "SELECT erasure.verify_request(id) || erasure.approve_request(id) FROM erasure.request_queue");
    let payloads = [
        ("reads B's payroll", "INSERT INTO tenant_a.loot SELECT p.secret FROM tenant_b.payroll p;"),
        ("writes B's customers", "UPDATE tenant_b.customers SET name = 'pwned by A';"),
        (
            "forges a ledger row",
            "INSERT INTO erasure.ledger (subject, key, status, mode, requested_by, executed_by, executed_at, tables)
             VALUES ('b_customer', '2', 'anonymized', 'anonymize', 'x', 'x', pg_catalog.now(), '[]');",
        ),
        (
            "forges a request",
            "INSERT INTO erasure.request_queue (subject, key, received_at, due_at)
             VALUES ('b_customer', '2', pg_catalog.now(), pg_catalog.now());",
        ),
    ];
    let harmless = [
        "CREATE OR REPLACE FUNCTION tenant_a.blocker_hook(k bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN false; END $$",
        "CREATE OR REPLACE FUNCTION tenant_a.mask_hook(v text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'Unknown customer'; END $$",
        "CREATE OR REPLACE FUNCTION tenant_a.filter_hook(k bigint, ref bigint) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN RETURN ref = k; END $$",
    ];
    let queue_before = state(&mut su, "erasure.request_queue");
    let before = lab.world(&mut su);
    for (hook, evil_template) in [
        ("blocker", "CREATE OR REPLACE FUNCTION tenant_a.blocker_hook(k bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN @PAYLOAD@ RETURN false; END $$"),
        ("expression", "CREATE OR REPLACE FUNCTION tenant_a.mask_hook(v text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN @PAYLOAD@ RETURN 'Unknown customer'; END $$"),
        ("filter", "CREATE OR REPLACE FUNCTION tenant_a.filter_hook(k bigint, ref bigint) RETURNS boolean LANGUAGE plpgsql AS $$
                    BEGIN @PAYLOAD@ RETURN ref = k; END $$"),
    ] {
        for (what, payload) in payloads {
            let attack = format!("A's {hook} {what}");
            a.batch_execute(&evil_template.replace("@PAYLOAD@", payload))
                .unwrap_or_else(|e| panic!("{attack}: redefining the hook: {}", describe(&e)));
            refused(&mut support, "SELECT erasure.anonymize('a_customer', 1)::text", "42501", &format!("{attack}, erasure by the operator"));
            refused(&mut support, "SELECT erasure.anonymize_many('a_customer', ARRAY[1, 2])::text", "42501", &format!("{attack}, bulk erasure"));
            if hook != "expression" {
                refused(&mut support, "SELECT erasure.erasure_preview(1, 'a_customer')::text", "42501", &format!("{attack}, preview"));
                // request() (SECURITY DEFINER) runs no catalog code: it only makes the key
                // canonical, so the hook never runs there (customer 1's request is open already).
                ok(&mut support, "SELECT erasure.request('a_customer', '1')::text");
            }
            if hook == "blocker" {
                refused(&mut support, "SELECT * FROM erasure.erasure_blockers(1, 'a_customer')", "42501", &format!("{attack}, blockers"));
            }
            // process_requests (SECURITY DEFINER) either fails or reports the request's error.
            match rows(&mut support, "SELECT status, detail ->> 'sqlstate' FROM erasure.process_requests()") {
                Err(e) => assert_eq!(sqlstate(&e), "42501", "{attack}, process_requests: {}", describe(&e)),
                Ok(r) => assert_eq!(r, vec![vec![s("error"), s("42501")]], "{attack}, process_requests"),
            }
            let mut after = lab.world(&mut su);
            // process_requests notes when it last tried the open request; nothing else changes.
            let queue = one(
                &mut su,
                "SELECT string_agg(format('%s %s %s %s', id, subject, key, ledger_request_id), ';' ORDER BY id) FROM erasure.request_queue",
            );
            assert_eq!(queue.as_deref(), Some("1 a_customer 1 "), "{attack}: the request queue changed: {queue:?}");
            after.insert("erasure.request_queue".into(), queue_before.clone());
            assert_unchanged(&before, &after, &attack);
        }
        for sql in harmless {
            a.batch_execute(sql).unwrap();
        }
    }
    assert_eq!(ok(&mut su, "SELECT count(*)::text FROM tenant_a.loot")[0][0], s("0"), "A's loot holds B's payroll");

    // With harmless hooks again, both tenants' erasures work.
    erased(&mut support, "a_customer", 1);
    assert_eq!(customer_a(&mut su, 1), vec![s("Xxxx"), s("erased-1@invalid.example"), None]);
    // The hooks were on the erasure's path: the guest order found by the filter was masked
    // by the expression.
    assert_eq!(
        ok(&mut su, "SELECT guest_email, ship_name FROM tenant_a.guest_orders ORDER BY id"),
        vec![vec![None, s("Unknown customer")], vec![s("zoe@example.com"), s("Zoe")]]
    );
    erased(&mut support, "b_customer", 1);
    assert_eq!(customer_b(&mut su, 1), vec![s("Yyyy"), s("gone-1@invalid.example")]);
    assert_eq!(customer_b(&mut su, 2), vec![s("Diego Dias"), s("diego@example.org")]);
}

// ---------------------------------------------------------------------------------------------
// 4. Session state left behind by catalog code
// ---------------------------------------------------------------------------------------------

/// A's blocker and expression functions change the operator's settings with
/// set_config(..., false) (search_path to put A's schema first, isolation, work_mem,
/// timeouts, application_name, row_security). Whatever the operator calls (blockers, preview,
/// an erasure that is blocked or succeeds, a bulk erasure, a request), its settings are
/// afterwards exactly what they were. While A's search_path is in force inside the erasure,
/// A's operators shadowing pg_catalog's never run with any rights but A's.
#[test]
fn catalog_code_leaves_no_setting_behind_in_the_operator_session() {
    let lab = Lab::new("state");
    let mut su = lab.su();
    let mut a = lab.owner_a();
    a.batch_execute(&lab.sql(TRAPS_IN_TENANT_A)).unwrap_or_else(|e| panic!("A's traps: {}", describe(&e)));
    a.batch_execute(
        r#"
        CREATE FUNCTION tenant_a.meddle() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_catalog.set_config('search_path', 'tenant_a, pg_catalog', false);
            PERFORM pg_catalog.set_config('default_transaction_isolation', 'serializable', false);
            PERFORM pg_catalog.set_config('work_mem', '77kB', false);
            PERFORM pg_catalog.set_config('lock_timeout', '4321ms', false);
            PERFORM pg_catalog.set_config('statement_timeout', '1234s', false);
            PERFORM pg_catalog.set_config('application_name', 'meddled by A', false);
            PERFORM pg_catalog.set_config('row_security', 'off', false);
        END $$;
        CREATE FUNCTION tenant_a.meddling_blocker(k bigint) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN PERFORM tenant_a.meddle(); RETURN false; END $$;
        CREATE FUNCTION tenant_a.meddling_mask(v text) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN PERFORM tenant_a.meddle(); RETURN 'Unknown customer'; END $$;
        SELECT erasure.register_blocker('a_customer', 'meddler', 'SELECT 1 AS meddled WHERE tenant_a.meddling_blocker($1)');
        SELECT erasure.set_policy('tenant_a.orders', 'ship_name', 'expression', '{"sql": "tenant_a.meddling_mask(ship_name)"}');
        "#,
    )
    .unwrap_or_else(|e| panic!("A's meddling code: {}", describe(&e)));

    let mut support = lab.support();
    support
        .batch_execute(
            "SET search_path = public; SET default_transaction_isolation = 'read committed'; SET work_mem = '4MB';
             SET lock_timeout = '2s'; SET application_name = 'helpdesk'; SET row_security = on",
        )
        .unwrap();
    let expected = settings(&mut support);

    let calls: [(&str, Option<&str>); 9] = [
        ("SELECT * FROM erasure.erasure_blockers(3, 'a_customer')", None),
        ("SELECT * FROM erasure.erasure_blockers(1, 'a_customer')", None),
        ("SELECT erasure.erasure_preview(2, 'a_customer')::text", None),
        ("SELECT erasure.anonymize('a_customer', 3)::text", Some("55000")),
        ("SELECT erasure.is_erased('a_customer', 1)::text", None),
        ("SELECT erasure.request('a_customer', '2')::text", None),
        ("SELECT erasure.anonymize('a_customer', 1)::text", None),
        ("SELECT * FROM erasure.anonymize_many('a_customer', ARRAY[2, 3])", None),
        ("SELECT * FROM erasure.process_requests()", None),
    ];
    for (sql, failure) in calls {
        match (rows(&mut support, sql), failure) {
            (Ok(_), None) => {}
            (Err(e), Some(code)) => assert_eq!(sqlstate(&e), code, "`{sql}`: {}", describe(&e)),
            (Ok(r), Some(code)) => panic!("`{sql}` should fail with {code}, returned {r:?}"),
            (Err(e), None) => panic!("`{sql}` failed: {}", describe(&e)),
        }
        assert_eq!(
            settings(&mut support),
            expected,
            "ATTACK GOT THROUGH: A's code changed the operator's settings in `{sql}`"
        );
    }
    // Inside a transaction block too, after the commit.
    support.batch_execute("BEGIN").unwrap();
    ok(&mut support, "SELECT * FROM erasure.erasure_blockers(3, 'a_customer')");
    ok(&mut support, "SELECT erasure.erasure_preview(3, 'a_customer')::text");
    support.batch_execute("COMMIT").unwrap();
    assert_eq!(
        settings(&mut support),
        expected,
        "ATTACK GOT THROUGH: A's code changed the settings of a transaction block"
    );

    // The erasures happened (so A's code did run), and A's operators never ran with rights
    // other than A's.
    assert_eq!(one(&mut su, "SELECT ship_name FROM tenant_a.orders WHERE id = 101"), s("Unknown customer"));
    assert_eq!(customer_a(&mut su, 2)[0], s("Xxxx"));
    let run_as = ok(&mut su, "SELECT DISTINCT op, run_as::text FROM tenant_a.trap_log ORDER BY 1, 2");
    eprintln!("A's operators ran as: {run_as:?}");
    assert!(
        run_as.iter().all(|r| r[1].as_deref() == Some(lab.a.as_str())),
        "ATTACK GOT THROUGH: A's operators ran with another role's rights: {run_as:?}"
    );
    assert!(!rolsuper(&mut su, &lab.a), "ATTACK GOT THROUGH: {} became superuser", lab.a);
}

/// release_expired() masks retained rows whose period is over with each table's own policies
/// (A's code, run as A) and reads the ledger (as the extension's owner) between tables. A's
/// expression on the first table puts tenant_a first on the search_path; A's operators in
/// tenant_a shadow `=` and `->>`. Whoever runs the release (the operator, or the superuser's
/// nightly job), no statement may run A's operators with the extension owner's rights: A
/// never becomes superuser, and the caller's settings are unchanged.
#[test]
fn release_expired_runs_no_tenant_code_with_the_extension_owners_rights() {
    let lab = Lab::new("release");
    let mut su = lab.su();
    let mut a = lab.owner_a();
    a.batch_execute(&lab.sql(TRAPS_IN_TENANT_A)).unwrap_or_else(|e| panic!("A's traps: {}", describe(&e)));
    a.batch_execute(
        r#"
        ALTER TABLE tenant_a.invoices ADD COLUMN issued_at date NOT NULL DEFAULT '2001-01-01';
        CREATE TABLE tenant_a.receipts (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES tenant_a.customers,
                                        paid_by text NOT NULL, paid_at date NOT NULL);
        CREATE INDEX ON tenant_a.receipts (customer_id);
        INSERT INTO tenant_a.receipts VALUES (1, 1, 'Alice Almeida', '2001-01-01'), (2, 2, 'Bruno Barros', '2001-01-01');
        SELECT erasure.register_table('a_customer', 'tenant_a.invoices', 'retain', reason => 'bookkeeping law',
                                      retain_for => '5 years', retain_from => 'issued_at');
        SELECT erasure.register_table('a_customer', 'tenant_a.receipts', 'retain', reason => 'bookkeeping law',
                                      retain_for => '5 years', retain_from => 'paid_at');
        CREATE FUNCTION tenant_a.meddling_mask(v text) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_catalog.set_config('search_path', 'tenant_a, pg_catalog', false);
            PERFORM pg_catalog.set_config('work_mem', '77kB', false);
            RETURN 'Xxxx';
        END $$;
        SELECT erasure.set_policy('tenant_a.invoices', 'billed_name', 'expression', '{"sql": "tenant_a.meddling_mask(billed_name)"}');
        SELECT erasure.set_policy('tenant_a.receipts', 'paid_by', 'constant', '{"value": "Xxxx"}');
        "#,
    )
    .unwrap_or_else(|e| panic!("A's retention: {}", describe(&e)));

    let mut support = lab.support();
    erased(&mut support, "a_customer", 1);
    support.batch_execute("SET search_path = public; SET work_mem = '4MB'").unwrap();
    let expected = settings(&mut support);
    let released =
        ok(&mut support, "SELECT \"table\", rows::text FROM erasure.release_expired('a_customer') ORDER BY 1");
    let trap_log = "SELECT op, run_as::text, session_role::text, count(*)::text FROM tenant_a.trap_log GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    let run_as = ok(&mut su, trap_log);
    eprintln!("after the operator's release_expired(), A's operators ran as: {run_as:?}");
    assert_eq!(
        settings(&mut support),
        expected,
        "ATTACK GOT THROUGH: A's code changed the operator's settings in release_expired()"
    );
    assert!(
        !rolsuper(&mut su, &lab.a),
        "ATTACK GOT THROUGH: {} became superuser in the operator's release_expired(); A's operators ran as {run_as:?}",
        lab.a
    );
    assert!(
        run_as.iter().all(|r| r[1].as_deref() == Some(lab.a.as_str())),
        "ATTACK GOT THROUGH: A's operators ran with another role's rights in the operator's release_expired(): {run_as:?}"
    );
    assert_eq!(
        released,
        vec![vec![s("tenant_a.invoices"), s("1")], vec![s("tenant_a.receipts"), s("1")]],
        "the release should have masked one row of each retained table"
    );
    assert_eq!(one(&mut su, "SELECT billed_name FROM tenant_a.invoices WHERE id = 1"), s("Xxxx"));
    assert_eq!(one(&mut su, "SELECT paid_by FROM tenant_a.receipts WHERE id = 1"), s("Xxxx"));

    // The superuser's nightly job, for every subject, after another erasure.
    erased(&mut support, "a_customer", 2);
    let mut dba = lab.su();
    ok(&mut dba, "SELECT * FROM erasure.release_expired()");
    assert!(
        !rolsuper(&mut su, &lab.a),
        "ATTACK GOT THROUGH: {} became superuser in the superuser's release_expired()",
        lab.a
    );

    let run_as = ok(&mut su, trap_log);
    eprintln!("in the end, A's operators ran as: {run_as:?}");
    assert!(
        run_as.iter().all(|r| r[1].as_deref() == Some(lab.a.as_str())),
        "ATTACK GOT THROUGH: A's operators ran with another role's rights: {run_as:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Replay
// ---------------------------------------------------------------------------------------------

/// erasure.replay() skips the blockers, so it is the subject owner's (or a superuser's) call:
/// owner A replaying a hand-made document for B's subject is refused (42501), and so are the
/// operator and a stranger; B's data is unchanged. B itself may replay; strict mode applies.
#[test]
fn replay_is_for_the_subject_owner_only_and_honours_strict_mode() {
    let lab = Lab::new("replay");
    let mut su = lab.su();
    let document = |key: &str, status: &str| {
        format!(
            r#"'{{"format": "pg_erasure ledger export", "version": 1, "entries": [{{"request_id": 1, "subject": "b_customer", "key": "{key}", "status": "{status}"}}]}}'::jsonb"#
        )
    };
    let before = lab.world(&mut su);
    let mut a = lab.owner_a();
    for status in ["anonymized", "deleted"] {
        for key in ["1", "2"] {
            refused(
                &mut a,
                &format!("SELECT * FROM erasure.replay({})", document(key, status)),
                "42501",
                &format!("A replays the erasure ({status}) of B's customer {key}"),
            );
        }
    }
    refused(
        &mut lab.support(),
        &format!("SELECT * FROM erasure.replay({})", document("1", "anonymized")),
        "42501",
        "the operator replays",
    );
    refused(
        &mut lab.stranger(),
        &format!("SELECT * FROM erasure.replay({})", document("1", "anonymized")),
        "42501",
        "a stranger replays",
    );
    assert_unchanged(&before, &lab.world(&mut su), "the replays of B's erasures by others");

    // Strict mode: B's catalog is incomplete, B's own replay is refused.
    su.batch_execute(&format!("ALTER DATABASE {} SET erasure.require_complete = on", lab.db.name)).unwrap();
    lab.owner_b().batch_execute("ALTER TABLE tenant_b.customers ADD COLUMN nickname text").unwrap();
    let before = lab.world(&mut su);
    let mut b = lab.owner_b();
    let e = refused(
        &mut b,
        &format!("SELECT * FROM erasure.replay({})", document("2", "anonymized")),
        "55000",
        "B's replay in strict mode with an incomplete catalog",
    );
    assert!(
        e.as_db_error().is_some_and(|db| db.message().contains("incomplete")),
        "refused for another reason: {}",
        describe(&e)
    );
    assert_unchanged(&before, &lab.world(&mut su), "B's refused replay in strict mode");

    // Complete again: B replays its own erasure (the blocker of customer 2 is skipped), and a
    // replay of its export finds everything present.
    b.batch_execute("SELECT erasure.set_policy('tenant_b.customers', 'nickname', 'null')").unwrap();
    let mut b = lab.owner_b();
    assert_eq!(
        ok(&mut b, &format!("SELECT subject, key, status FROM erasure.replay({})", document("2", "anonymized"))),
        vec![vec![s("b_customer"), s("2"), s("anonymized")]]
    );
    assert_eq!(customer_b(&mut su, 2), vec![s("Yyyy"), s("gone-2@invalid.example")]);
    let export = one(&mut b, "SELECT erasure.ledger_export()::text").unwrap();
    assert_eq!(
        ok(&mut b, &format!("SELECT subject, key, status FROM erasure.replay({}::jsonb)", literal(&export))),
        vec![vec![s("b_customer"), s("2"), s("present")]]
    );
    // And A may not replay B's export either.
    refused(
        &mut a,
        &format!("SELECT * FROM erasure.replay({}::jsonb)", literal(&export)),
        "42501",
        "A replays B's export",
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The extension's tables and strict mode
// ---------------------------------------------------------------------------------------------

/// Operators and admins may read the catalog, the ledger and the request queue, never write
/// them: INSERT, UPDATE, DELETE and TRUNCATE are refused with 42501, and the contents stay as
/// they were. The queue is written through erasure.request(), the request functions and
/// erasure.process_requests() only, which the operator may call (approving is the admin's) and a
/// stranger may not; the state machine behind the request functions (`move_request`) and the
/// restriction marker (`mark_restriction`) are called by those functions only, by nobody directly.
#[test]
fn operators_and_admins_cannot_write_the_ledger_the_queue_or_the_catalog() {
    let lab = Lab::new("writes");
    let mut su = lab.su();
    let mut support = lab.support();
    erased(&mut support, "a_customer", 1);
    ok(&mut support, "SELECT erasure.request('a_customer', '3')");
    ok(&mut support, "SELECT erasure.request('a_customer', '2')");
    // The operator confirms the requesters' identity; approving is the admin's (a superuser here).
    ok(&mut support, "SELECT erasure.verify_request(id) FROM erasure.request_queue");
    ok(&mut su, "SELECT erasure.approve_request(id) FROM erasure.request_queue");
    let processed = ok(&mut support, "SELECT request_id::text, status FROM erasure.process_requests() ORDER BY 1");
    assert_eq!(processed, vec![vec![s("1"), s("blocked")], vec![s("2"), s("executed")]]);
    assert_eq!(
        ok(&mut support, "SELECT count(*)::text FROM erasure.requests")[0][0],
        s("2"),
        "the operator reads the queue"
    );

    let attacks = [
        "INSERT INTO erasure.request_queue (subject, key, received_at, due_at) VALUES ('a_customer', '1', now(), now())",
        "UPDATE erasure.request_queue SET blockers = NULL, held_until = NULL",
        "UPDATE erasure.request_queue SET ledger_request_id = 1 WHERE key = '3'",
        "DELETE FROM erasure.request_queue",
        "TRUNCATE erasure.request_queue",
        "INSERT INTO erasure.ledger (subject, key, status, mode, requested_by, executed_by, executed_at, tables)
         VALUES ('a_customer', '3', 'anonymized', 'anonymize', 'x', 'x', now(), '[]')",
        "UPDATE erasure.ledger SET executed_by = 'nobody'",
        "DELETE FROM erasure.ledger",
        "TRUNCATE erasure.ledger CASCADE",
        "UPDATE erasure.column_policies SET strategy = 'keep'",
        "DELETE FROM erasure.blockers",
        "INSERT INTO erasure.tables (subject, tbl, action, parent, via, parent_columns, filter)
         VALUES ('b_customer', 'tenant_b.payroll', 'retain', 'tenant_b.customers', '{}', '{}', 'true')",
        "UPDATE erasure.subjects SET key_column = 'email'",
        // The lifecycle's state machine and the restriction marker are called by the request
        // functions only: called directly they would skip the approval, or restrict (or lift
        // the restriction of) a customer without a request.
        "SELECT erasure.move_request(id, 'approve') FROM erasure.request_queue WHERE key = '4'",
        "SELECT erasure.move_request(id, 'cancel') FROM erasure.request_queue WHERE key = '3'",
        "SELECT erasure.mark_restriction('a_customer', '4', true)",
        "SELECT erasure.mark_restriction('a_customer', '3', false)",
    ];
    ok(&mut su, "INSERT INTO tenant_a.customers VALUES (4, 'Davi Dias', 'davi@example.com', NULL)");
    ok(&mut support, "SELECT erasure.request('a_customer', '4')");
    ok(&mut support, "SELECT erasure.verify_request(id) FROM erasure.request_queue WHERE key = '4'");
    let before = lab.world(&mut su);
    let mut a = lab.owner_a();
    for (who, client) in [(&lab.support, &mut support), (&lab.a, &mut a)] {
        for sql in attacks {
            refused(client, sql, "42501", &format!("{who}: {sql}"));
        }
    }
    // Approving is the admin's (the tenants are admins), not the operator's.
    refused(
        &mut support,
        "SELECT erasure.approve_request(id) FROM erasure.request_queue WHERE key = '4'",
        "42501",
        "the operator approves a request",
    );
    let mut stranger = lab.stranger();
    for sql in [
        "SELECT erasure.request('a_customer', '1')",
        "SELECT * FROM erasure.process_requests()",
        "SELECT * FROM erasure.ledger",
        "SELECT * FROM erasure.request_queue",
    ] {
        refused(&mut stranger, sql, "42501", &format!("stranger: {sql}"));
    }
    assert_unchanged(&before, &lab.world(&mut su), "the writes to the extension's tables");
}

/// erasure.require_complete is the superuser's: an operator cannot switch it off for its
/// session (SET, set_config, ALTER ROLE, or a placeholder set before the library loads), and
/// an erasure of a subject with an incomplete catalog stays refused (55000), changing nothing.
#[test]
fn strict_mode_cannot_be_switched_off_by_an_operator() {
    let lab = Lab::new("strict");
    let mut su = lab.su();
    su.batch_execute(&format!("ALTER DATABASE {} SET erasure.require_complete = on", lab.db.name)).unwrap();
    // A column nobody decided on: check() reports an error for A's subject.
    lab.owner_a().batch_execute("ALTER TABLE tenant_a.customers ADD COLUMN nickname text").unwrap();
    let before = lab.world(&mut su);

    // Before the library is loaded in the session: a placeholder set by the operator.
    let mut support = lab.support();
    let placeholder = rows(&mut support, "SET erasure.require_complete = off");
    eprintln!("placeholder SET before the library loads: {:?}", placeholder.as_ref().map_err(describe));
    let e = refused(
        &mut support,
        "SELECT erasure.anonymize('a_customer', 1)::text",
        "55000",
        "erasure after a placeholder SET",
    );
    assert!(everything(&e).contains("incomplete"), "refused for another reason: {}", describe(&e));
    assert_eq!(
        one(&mut support, "SHOW erasure.require_complete"),
        s("on"),
        "the operator's placeholder switched strict mode off"
    );

    // After the library is loaded.
    let mut support = lab.support();
    ok(&mut support, "SELECT erasure.is_erased('a_customer', 1)::text");
    for sql in [
        "SET erasure.require_complete = off",
        "SET SESSION erasure.require_complete = off",
        "SELECT set_config('erasure.require_complete', 'off', false)",
        "SELECT set_config('erasure.require_complete', 'off', true)",
        &format!("ALTER ROLE {} SET erasure.require_complete = off", lab.support),
        &format!("ALTER DATABASE {} SET erasure.require_complete = off", lab.db.name),
    ] {
        refused(&mut support, sql, "42501", &format!("the operator: {sql}"));
    }
    assert_eq!(one(&mut support, "SHOW erasure.require_complete"), s("on"));
    let e = refused(
        &mut support,
        "SELECT erasure.anonymize('a_customer', 1)::text",
        "55000",
        "erasure with an incomplete catalog",
    );
    assert!(everything(&e).contains("incomplete"), "refused for another reason: {}", describe(&e));
    // Owner A (an admin) cannot either.
    let mut a = lab.owner_a();
    ok(&mut a, "SELECT erasure.is_erased('a_customer', 1)::text");
    refused(&mut a, "SET erasure.require_complete = off", "42501", "owner A switches strict mode off");
    assert_unchanged(&before, &lab.world(&mut su), "the attempts to switch strict mode off");

    // A new session of the operator after all that: still on.
    assert_eq!(one(&mut lab.support(), "SELECT erasure.is_erased('a_customer', 1)::text"), s("false"));
    let mut support = lab.support();
    ok(&mut support, "SELECT erasure.is_erased('a_customer', 1)::text");
    assert_eq!(one(&mut support, "SHOW erasure.require_complete"), s("on"));
}

// ---------------------------------------------------------------------------------------------
// 7. Errors carry no personal value
// ---------------------------------------------------------------------------------------------

/// A blocked erasure says which blockers and how many items (55000), never the blocking row's
/// values; a masked row breaking a CHECK constraint fails with 23514 naming the constraint,
/// without PostgreSQL's "Failing row contains" detail or any of the subject's values.
#[test]
fn errors_carry_no_personal_values() {
    let lab = Lab::new("errors");
    let mut su = lab.su();
    let mut support = lab.support();

    let before = lab.world(&mut su);
    let e = refused(
        &mut support,
        "SELECT erasure.anonymize('a_customer', 3)::text",
        "55000",
        "erasure of a blocked customer",
    );
    let text = everything(&e);
    assert!(
        e.as_db_error().and_then(|db| db.detail()).is_some_and(|d| d.contains("unpaid: 1 item")),
        "the DETAIL should count the blocker's items: {text}"
    );
    for value in ["awaiting_payment", "Carla", "carla@example.com", "301"] {
        assert!(!text.contains(value), "ATTACK GOT THROUGH: the blocked erasure's error shows {value:?}: {text}");
    }
    assert_unchanged(&before, &lab.world(&mut su), "the blocked erasure");

    // A CHECK constraint the masked value breaks, which registration cannot foresee.
    lab.owner_a()
        .batch_execute(
            r#"
            CREATE TABLE tenant_a.members (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE,
                                           CONSTRAINT members_name_long_enough CHECK (length(name) > 5));
            CREATE TABLE tenant_a.visits (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES tenant_a.members, note text);
            CREATE INDEX ON tenant_a.visits (member_id);
            INSERT INTO tenant_a.members VALUES (1, 'Gabriela Gomes', 'gabriela@example.net');
            INSERT INTO tenant_a.visits VALUES (1, 1, 'came by on Monday');
            SELECT erasure.register_subject('a_member', 'tenant_a.members');
            SELECT erasure.register_table('a_member', 'tenant_a.visits');
            SELECT erasure.set_policy('tenant_a.members', 'name', 'constant', '{"value": "Xx"}');
            SELECT erasure.set_policy('tenant_a.members', 'email', 'placeholder', '{"template": "m{key}@invalid.example"}');
            SELECT erasure.set_policy('tenant_a.visits', 'id', 'keep');
            SELECT erasure.set_policy('tenant_a.visits', 'note', 'null');
            "#,
        )
        .unwrap_or_else(|e| panic!("A's members: {}", describe(&e)));
    let before = lab.world(&mut su);
    let e = refused(
        &mut support,
        "SELECT erasure.anonymize('a_member', 1)::text",
        "23514",
        "erasure breaking a CHECK constraint",
    );
    let text = everything(&e);
    assert!(text.contains("members_name_long_enough"), "the error should name the constraint: {text}");
    for value in ["Failing row contains", "Gabriela", "gabriela@example.net", "came by"] {
        assert!(!text.contains(value), "ATTACK GOT THROUGH: the CHECK violation's error shows {value:?}: {text}");
    }
    assert_unchanged(&before, &lab.world(&mut su), "the erasure breaking a CHECK constraint");
}

// ---------------------------------------------------------------------------------------------
// 8. Retained tables
// ---------------------------------------------------------------------------------------------

/// A's trigger on its masked customers writes to its retained invoices during an erasure
/// (update, even with identical values; insert; delete; or through a rule on another table):
/// the erasure fails with 27000 naming the table, and nothing changes (xmin included). A
/// foreign key from a retained table that follows changes of a masked column (ON UPDATE
/// CASCADE / SET NULL) is refused at registration with 42830, reported by check(), and an
/// erasure through one added later changes nothing.
#[test]
fn retained_tables_stay_unchanged_whatever_runs_during_an_erasure() {
    let lab = Lab::new("retained");
    let mut su = lab.su();
    let mut a = lab.owner_a();
    a.batch_execute(
        r#"
        CREATE TABLE tenant_a.audit (customer_id bigint, name text);
        CREATE RULE audit_to_invoices AS ON INSERT TO tenant_a.audit DO INSTEAD
            UPDATE tenant_a.invoices SET billed_name = NEW.name WHERE customer_id = NEW.customer_id;
        CREATE FUNCTION tenant_a.touch_invoices() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            CASE TG_ARGV[0]
                WHEN 'update' THEN UPDATE tenant_a.invoices SET billed_name = NEW.name WHERE customer_id = NEW.id;
                WHEN 'rewrite' THEN UPDATE tenant_a.invoices SET total = total WHERE customer_id = NEW.id;
                WHEN 'insert' THEN INSERT INTO tenant_a.invoices VALUES (99, NEW.id, NEW.name, 0);
                WHEN 'delete' THEN DELETE FROM tenant_a.invoices WHERE customer_id = NEW.id;
                WHEN 'rule' THEN INSERT INTO tenant_a.audit VALUES (NEW.id, NEW.name);
            END CASE;
            RETURN NEW;
        END $$;
        "#,
    )
    .unwrap_or_else(|e| panic!("A's trigger function: {}", describe(&e)));
    let mut support = lab.support();
    for (table, mode) in [
        ("customers", "update"),
        ("customers", "rewrite"),
        ("customers", "insert"),
        ("customers", "delete"),
        ("customers", "rule"),
        ("orders", "rewrite"),
    ] {
        // On orders, NEW.id is the order's: 'rewrite' then touches no invoice of customer 1;
        // use every invoice instead.
        let function = if table == "orders" { "touch_all_invoices" } else { "touch_invoices" };
        if table == "orders" {
            a.batch_execute(
                "CREATE OR REPLACE FUNCTION tenant_a.touch_all_invoices() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN UPDATE tenant_a.invoices SET total = total; RETURN NEW; END $$",
            )
            .unwrap();
        }
        a.batch_execute(&format!(
            "CREATE TRIGGER touch AFTER UPDATE ON tenant_a.{table} FOR EACH ROW EXECUTE FUNCTION tenant_a.{function}('{mode}')"
        ))
        .unwrap_or_else(|e| panic!("trigger {mode} on {table}: {}", describe(&e)));
        let before = lab.world(&mut su);
        let e = refused(
            &mut support,
            "SELECT erasure.anonymize('a_customer', 1)::text",
            "27000",
            &format!("a trigger ({mode}) on {table} writing the retained invoices"),
        );
        assert!(everything(&e).contains("invoices"), "the error should name the retained table: {}", describe(&e));
        assert_unchanged(&before, &lab.world(&mut su), &format!("the erasure with a trigger ({mode}) on {table}"));
        a.batch_execute(&format!("DROP TRIGGER touch ON tenant_a.{table}")).unwrap();
    }
    // Without the trigger the erasure works and leaves the invoices alone.
    let invoices = state(&mut su, "tenant_a.invoices");
    erased(&mut support, "a_customer", 2);
    assert_eq!(state(&mut su, "tenant_a.invoices"), invoices);

    // A foreign key following the masked e-mail into a retained table.
    a.batch_execute(
        "CREATE TABLE tenant_a.receipts (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES tenant_a.customers,
                                         customer_email text REFERENCES tenant_a.customers (email) ON UPDATE CASCADE);
         CREATE INDEX ON tenant_a.receipts (customer_id);
         INSERT INTO tenant_a.receipts VALUES (1, 1, 'alice@example.com');",
    )
    .unwrap();
    let before = lab.world(&mut su);
    refused(
        &mut a,
        "SELECT erasure.register_table('a_customer', 'tenant_a.receipts', 'retain', via => '{customer_id}', reason => 'bookkeeping law')",
        "42830",
        "registering a retained table whose foreign key follows a masked column",
    );
    assert_unchanged(&before, &lab.world(&mut su), "the refused register_table");
    // Registered while the e-mail is kept, then the e-mail masked: set_policy is refused.
    ok(&mut a, "SELECT erasure.set_policy('tenant_a.customers', 'email', 'keep')");
    ok(&mut a, "SELECT erasure.register_table('a_customer', 'tenant_a.receipts', 'retain', via => '{customer_id}', reason => 'bookkeeping law')");
    let before = lab.world(&mut su);
    refused(
        &mut a,
        r#"SELECT erasure.set_policy('tenant_a.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}')"#,
        "42830",
        "masking a column a retained table's foreign key follows",
    );
    assert_unchanged(&before, &lab.world(&mut su), "the refused set_policy");
    // The foreign key added afterwards by ALTER TABLE: check() reports it and the erasure
    // changes nothing.
    a.batch_execute(
        r#"ALTER TABLE tenant_a.receipts DROP CONSTRAINT receipts_customer_email_fkey;
           SELECT erasure.set_policy('tenant_a.customers', 'email', 'placeholder', '{"template": "erased-{key}@invalid.example"}');"#,
    )
    .unwrap();
    a.batch_execute(
        "ALTER TABLE tenant_a.receipts ADD CONSTRAINT receipts_follow_email FOREIGN KEY (customer_email)
             REFERENCES tenant_a.customers (email) ON UPDATE SET NULL",
    )
    .unwrap_or_else(|e| panic!("the DDL watch made A's ALTER TABLE fail: {}", describe(&e)));
    let checked = ok(&mut a, "SELECT severity, tbl::text, problem FROM erasure.check('a_customer')");
    assert!(
        checked.iter().any(|r| r[0].as_deref() == Some("error")
            && r[1].as_deref() == Some("tenant_a.receipts")
            && r[2].as_deref().is_some_and(|p| p.contains("receipts_follow_email"))),
        "check() should report the foreign key: {checked:?}"
    );
    let before = lab.world(&mut su);
    refused(
        &mut support,
        "SELECT erasure.anonymize('a_customer', 1)::text",
        "42830",
        "erasure through a following foreign key",
    );
    assert_unchanged(&before, &lab.world(&mut su), "the erasure through a following foreign key");
}

// ---------------------------------------------------------------------------------------------
// 9. Traps in public
// ---------------------------------------------------------------------------------------------

/// A stranger given CREATE on public plants operators and a function there that shadow
/// pg_catalog's for the operator, who puts public first on its search_path. erase_batches pins
/// search_path before evaluating anything, and its rule runs as the owner with search_path
/// pinned too: the traps never run
/// (they log every call), the batches erase what they should, and the operator's search_path
/// is as it was. The stranger, listening on channel erasure, hears what was erased (noted).
#[test]
fn erase_batches_ignores_traps_planted_in_public() {
    let lab = Lab::new("traps");
    let mut su = lab.su();
    su.batch_execute(&lab.sql("GRANT CREATE ON SCHEMA public TO @STRANGER@")).unwrap();
    let mut stranger = lab.stranger();
    stranger
        .batch_execute(
            r#"
            CREATE TABLE public.trap_log (op text, run_as name, session_role name);
            GRANT INSERT ON public.trap_log TO PUBLIC;
            CREATE FUNCTION public.trap_int4_lt(l integer, r integer) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('integer < integer', current_user, session_user); RETURN l OPERATOR(pg_catalog.<) r; END $$;
            CREATE OPERATOR public.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.trap_int4_lt);
            CREATE FUNCTION public.trap_text_eq(l text, r text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('text = text', current_user, session_user); RETURN l OPERATOR(pg_catalog.=) r; END $$;
            CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.trap_text_eq);
            CREATE FUNCTION public.trap_int84_pl(l bigint, r integer) RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('bigint + integer', current_user, session_user); RETURN l OPERATOR(pg_catalog.+) r; END $$;
            CREATE OPERATOR public.+ (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = public.trap_int84_pl);
            CREATE FUNCTION public.trap_int84_gt(l bigint, r integer) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('bigint > integer', current_user, session_user); RETURN l OPERATOR(pg_catalog.>) r; END $$;
            CREATE OPERATOR public.> (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = public.trap_int84_gt);
            CREATE FUNCTION public.trap_int84_le(l bigint, r integer) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('bigint <= integer', current_user, session_user); RETURN l OPERATOR(pg_catalog.<=) r; END $$;
            CREATE OPERATOR public.<= (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = public.trap_int84_le);
            CREATE FUNCTION public.trap_int4_mi(l integer, r integer) RETURNS integer LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('integer - integer', current_user, session_user); RETURN l OPERATOR(pg_catalog.-) r; END $$;
            CREATE OPERATOR public.- (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.trap_int4_mi);
            CREATE FUNCTION public.generate_series(a integer, b integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.trap_log VALUES ('generate_series', current_user, session_user);
                  RETURN QUERY SELECT * FROM pg_catalog.generate_series(a, b); END $$;
            LISTEN erasure;
            "#,
        )
        .unwrap_or_else(|e| panic!("the stranger's traps: {}", describe(&e)));
    su.batch_execute(&lab.sql("REVOKE CREATE ON SCHEMA public FROM @STRANGER@")).unwrap();

    let mut support = lab.support();
    support.batch_execute("SET search_path = public, pg_catalog").unwrap();
    // The traps are live for the operator's own statements.
    ok(&mut support, "SELECT 1 < 2, 'a' = 'b', count(*) FROM generate_series(1, 2)");
    assert_eq!(ok(&mut su, "SELECT count(*)::text FROM public.trap_log")[0][0], s("3"), "the traps are not live");
    lab.owner_a()
        .batch_execute(
            "SELECT erasure.register_batch_rule('a_customer', 'below',
               'SELECT k::bigint FROM generate_series(1, 3) AS k WHERE k < $1', parameter => 'integer')",
        )
        .unwrap_or_else(|e| panic!("the owner's batch rule: {}", describe(&e)));
    su.batch_execute("TRUNCATE public.trap_log").unwrap();
    let expected = settings(&mut support);
    let before = lab.world(&mut su);

    support
        .batch_execute("CALL erasure.erase_batches('a_customer', 'below', '3', 1, dry_run => true)")
        .unwrap_or_else(|e| panic!("dry run: {}", describe(&e)));
    let logged = ok(&mut su, "SELECT op, run_as::text FROM public.trap_log");
    assert!(logged.is_empty(), "ATTACK GOT THROUGH: the traps in public ran in the dry run: {logged:?}");
    assert_unchanged(&before, &lab.world(&mut su), "the dry run");
    assert_eq!(settings(&mut support), expected, "erase_batches changed the operator's settings");

    support
        .batch_execute("CALL erasure.erase_batches('a_customer', 'below', '3', 1)")
        .unwrap_or_else(|e| panic!("erase_batches: {}", describe(&e)));
    let logged = ok(&mut su, "SELECT op, run_as::text FROM public.trap_log");
    assert!(logged.is_empty(), "ATTACK GOT THROUGH: the traps in public ran: {logged:?}");
    assert_eq!(settings(&mut support), expected, "erase_batches changed the operator's settings");
    assert_eq!(
        ok(&mut su, "SELECT key, status FROM erasure.ledger WHERE subject = 'a_customer' ORDER BY key"),
        vec![vec![s("1"), s("anonymized")], vec![s("2"), s("anonymized")]]
    );
    assert_eq!(customer_a(&mut su, 3)[0], s("Carla Costa"), "customer 3 was not a candidate");

    // pg_notify('erasure', ...): any role may LISTEN; note what a stranger hears.
    ok(&mut stranger, "SELECT 1");
    let heard: Vec<String> = stranger
        .notifications()
        .timeout_iter(Duration::from_millis(500))
        .iterator()
        .filter_map(|n| n.ok().map(|n| n.payload().to_string()))
        .collect();
    eprintln!("NOTE: a role without any grant, listening on channel erasure, heard: {heard:?}");
    for payload in &heard {
        for value in ["Alice", "alice@example.com", "Bruno", "bruno@example.com"] {
            assert!(!payload.contains(value), "a notification carries a personal value: {payload}");
        }
    }
}
