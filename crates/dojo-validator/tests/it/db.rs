//! Databases for tests: a SQLite file in a temp dir, or a uniquely named PostgreSQL database that
//! is dropped afterwards. PostgreSQL is found at `DOJO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`); when unreachable the test is skipped locally and fails
//! under `DOJO_CI=1`.

use dojo_validator::store::Store;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

pub(crate) enum Db {
    /// Holds the directory until the test ends.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin: String,
        name: String,
    },
}

impl Db {
    pub(crate) fn sqlite() -> (Self, String) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("validator.db").display());
        (Db::Sqlite { _dir: dir }, url)
    }

    pub(crate) async fn postgres() -> Option<(Self, String)> {
        install_default_drivers();
        let base = std::env::var("DOJO_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let admin = format!("{base}/postgres");
        let pool = match AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&admin)
            .await
        {
            Ok(p) => p,
            Err(e) => return dojo_test_utils::missing(&format!("PostgreSQL at {base} ({e})")),
        };
        let name = format!("dojo_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let url = format!("{base}/{name}");
        Some((Db::Postgres { admin, name }, url))
    }

    pub(crate) async fn drop_db(self, store: Option<Store>) {
        if let Some(s) = store {
            s.close().await;
        }
        if let Db::Postgres { admin, name } = self {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
    }
}

/// Runs `$body(url)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, url) = $crate::db::Db::sqlite();
                let store = super::$body(url).await;
                db.drop_db(Some(store)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some((db, url)) = $crate::db::Db::postgres().await else {
                    return;
                };
                let store = super::$body(url).await;
                db.drop_db(Some(store)).await;
            }
        }
    };
}
