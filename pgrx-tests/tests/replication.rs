//! Replication: erasures on a logical-replication publisher reach its subscriber (masked columns
//! masked there, retained rows identical), and a hot standby refuses an erasure with a clear
//! error while still answering a preview.
//!
//! The test starts clusters of its own (initdb and pg_ctl as the postgres OS user, sockets in
//! temporary directories, no TCP) and stops them when it ends, even on failure.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use postgres::{Client, NoTls};

fn pg_bin(program: &str) -> String {
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    format!("{bin}/{program}")
}

/// Runs a command as the postgres OS user (PostgreSQL refuses to run as root).
fn as_postgres(program: &str, args: &[&str]) {
    let output = Command::new("sudo")
        .args(["-u", "postgres", &pg_bin(program)])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A cluster of the test's own, listening on a unix socket in its directory.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn socket(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    fn directory(name: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("pg_erasure_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("chown").args(["postgres:", &dir.to_string_lossy()]).status().unwrap();
        assert!(status.success());
        Cluster { dir }
    }

    fn init(name: &str, options: &str) -> Cluster {
        let cluster = Cluster::directory(name);
        as_postgres("initdb", &["-D", &cluster.data(), "-U", "postgres", "--auth=trust", "--locale=C.UTF-8"]);
        cluster.start(options);
        cluster
    }

    /// A hot standby streaming from `primary`, from a base backup.
    fn standby_of(primary: &Cluster, name: &str) -> Cluster {
        let cluster = Cluster::directory(name);
        as_postgres("pg_basebackup", &["-h", &primary.socket(), "-U", "postgres", "-D", &cluster.data(), "-R"]);
        cluster.start("");
        cluster
    }

    fn start(&self, options: &str) {
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        let options = format!("-k {} -c listen_addresses='' -c fsync=off {options}", self.socket());
        as_postgres("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &options, "start"]);
    }

    fn connect(&self, dbname: &str) -> Client {
        let mut config = postgres::Config::new();
        config.host_path(&self.dir).port(5432).user("postgres").dbname(dbname);
        config.connect(NoTls).unwrap_or_else(|e| panic!("cannot connect to {dbname} in {:?}: {e}", self.dir))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("sudo")
            .args(["-u", "postgres", &pg_bin("pg_ctl"), "-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every row of the shop's tables, in key order.
fn shop_rows(client: &mut Client) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ["shop.customers", "shop.orders", "billing.invoices"] {
        let sql = format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY id");
        rows.extend(
            client.query(sql.as_str(), &[]).unwrap().iter().map(|r| format!("{table} {}", r.get::<_, String>(0))),
        );
    }
    rows
}

/// Polls until `condition` holds, failing after `within`.
fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < within, "{what}: not after {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn erasures_reach_a_logical_replica_and_a_standby_refuses_them() {
    let publisher = Cluster::init("publisher", "-c wal_level=logical");
    let subscriber = Cluster::init("subscriber", "");
    let mut primary = publisher.connect("postgres");
    primary.batch_execute(SHOP).unwrap_or_else(|e| panic!("shop: {}", describe(&e)));
    primary.batch_execute("CREATE PUBLICATION shop FOR TABLE shop.customers, shop.orders, billing.invoices").unwrap();

    // The subscriber has the shop's tables only: erasures run on the publisher.
    let mut replica = subscriber.connect("postgres");
    let ddl: String = SHOP.split("INSERT INTO").next().unwrap().replace("CREATE EXTENSION pg_erasure;", "");
    replica.batch_execute(&ddl).unwrap();
    let connection = format!("host={} port=5432 user=postgres dbname=postgres", publisher.socket());
    replica.batch_execute(&format!("CREATE SUBSCRIPTION shop CONNECTION '{connection}' PUBLICATION shop")).unwrap();
    let expected = shop_rows(&mut primary);
    wait_for("initial copy", Duration::from_secs(30), || shop_rows(&mut replica) == expected);

    let invoices_before: Vec<String> =
        shop_rows(&mut replica).into_iter().filter(|r| r.starts_with("billing.")).collect();
    let report = anonymize(&mut primary, 1).unwrap();
    assert_eq!(report.status, "anonymized", "{}", report.text);
    let expected = shop_rows(&mut primary);
    wait_for("the erasure to replicate", Duration::from_secs(30), || shop_rows(&mut replica) == expected);
    assert_eq!(customer(&mut replica, 1), ("Xxxx".to_string(), "erased-1@invalid.example".to_string()));
    let ship_names: Vec<Option<String>> = orders(&mut replica, 1).into_iter().map(|o| o.2).collect();
    assert_eq!(ship_names, [Some("Unknown customer".to_string()), Some("Unknown customer".to_string())]);
    let invoices_after: Vec<String> =
        shop_rows(&mut replica).into_iter().filter(|r| r.starts_with("billing.")).collect();
    assert_eq!(invoices_after, invoices_before, "retained rows changed on the subscriber");
    replica.batch_execute("DROP SUBSCRIPTION shop").unwrap();

    // A hot standby of the publisher: reading works, erasing is refused with 25006.
    let standby = Cluster::standby_of(&publisher, "standby");
    let mut hot = standby.connect("postgres");
    wait_for("the standby to replay the erasure", Duration::from_secs(30), || {
        hot.query_one("SELECT erasure.is_erased('customer', 1::bigint)", &[]).map(|r| r.get(0)).unwrap_or(false)
    });
    let preview: String =
        hot.query_one("SELECT erasure.erasure_preview(2::bigint) ->> 'decision'", &[]).unwrap().get(0);
    assert_eq!(preview, "anonymize");
    let refused = anonymize(&mut hot, 2).expect_err("a standby must refuse an erasure");
    assert_eq!(refused.code(), Some(&postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION), "{}", describe(&refused));
    println!("standby refuses: {}", describe(&refused));
}
