//! A database that is briefly unavailable: on PostgreSQL its connections are killed and new ones
//! refused for a while; on SQLite another connection holds the write lock. A round started during
//! the outage retries with back-off and lands whole once the database is back; steps that fail are
//! counted and leave nothing half-written; the validator carries on.

use std::time::Duration;

use dojo_synthetic_api::client::SyntheticClient;
use dojo_transport::{Dendrite, DendriteConfig};
use dojo_validator::service::Validator;
use dojo_validator::store::Store;
use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;

use crate::db::Db;
use crate::run::{config, network};

const OUTAGE: Duration = Duration::from_millis(1500);

/// Starts the outage; the returned task ends it after [`OUTAGE`].
async fn outage(db: &Db, url: &str) -> tokio::task::JoinHandle<()> {
    match db {
        Db::Postgres { admin, name } => {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(admin)
                .await
                .unwrap();
            pool.execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
            )))
            .await
            .unwrap();
            pool.execute(sqlx::AssertSqlSafe(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )))
            .await
            .unwrap();
            let name = name.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OUTAGE).await;
                pool.execute(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
                )))
                .await
                .unwrap();
                pool.close().await;
            })
        }
        Db::Sqlite { .. } => {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .unwrap();
            let mut conn = pool.acquire().await.unwrap();
            conn.execute("BEGIN EXCLUSIVE").await.unwrap();
            tokio::spawn(async move {
                tokio::time::sleep(OUTAGE).await;
                conn.execute("ROLLBACK").await.unwrap();
                drop(conn);
                pool.close().await;
            })
        }
    }
}

async fn briefly_unavailable(db: &Db, url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    let net = network(false, &store).await;
    let dendrite = Dendrite::new(
        net.validator.clone(),
        DendriteConfig {
            timeout: Duration::from_secs(3),
            ..DendriteConfig::default()
        },
    );
    let client = SyntheticClient::new(&net.synthetic, None, Duration::from_secs(5)).unwrap();
    let v = Validator::new(
        config(net.validator.ss58(), None, None),
        net.devnet.clone(),
        store.clone(),
        dendrite,
        client,
    )
    .await
    .unwrap();
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    v.round().await.unwrap();
    assert_eq!(store.count("sent").await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;

    let back = outage(db, &url).await;
    let started = std::time::Instant::now();
    // A round during the outage: its write retries until the database is back, then lands whole.
    v.round().await.unwrap();
    let waited = started.elapsed();
    back.await.unwrap();
    assert!(
        waited >= OUTAGE - Duration::from_millis(200),
        "the round's write waited for the database ({waited:?})"
    );
    assert_eq!(
        store.count("sent").await.unwrap(),
        2,
        "the round started in the outage was stored"
    );
    if matches!(db, Db::Postgres { .. }) {
        // A step that meets the outage fails, is counted, and writes nothing.
        let back = outage(db, &url).await;
        assert_eq!(v.collect().await.unwrap(), 0);
        assert!(v.metrics.total("dojo_store_errors_total") >= 1.0);
        back.await.unwrap();
    }
    // Afterwards everything completes, and no state is half-written.
    tokio::time::sleep(Duration::from_millis(700)).await;
    while v.collect().await.unwrap() > 0 {}
    while v.score().await.unwrap() > 0 {}
    assert_eq!(store.count("sent").await.unwrap(), 0);
    assert_eq!(store.count("collected").await.unwrap(), 0);
    let ids = store.tasks_in("scored", None, 100).await.unwrap();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let t = store.load(id).await.unwrap();
        assert_eq!(t.assignments.len(), net.miners.len(), "every part of {id}");
        assert_eq!(
            t.responses.len(),
            t.assignments.len(),
            "every result of {id}"
        );
    }
    store
}

mod database_briefly_unavailable_retries_without_partial_writes {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let (db, url) = Db::sqlite();
        let store = briefly_unavailable(&db, url).await;
        db.drop_db(Some(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some((db, url)) = Db::postgres().await else {
            return;
        };
        let store = briefly_unavailable(&db, url).await;
        db.drop_db(Some(store)).await;
    }
}
