//! The ingestion server's state in PostgreSQL, for several `wedsync serve` instances that
//! share one database (issue 19, in parts). So far: the connection pool, the numbered
//! migrations in `pg/migrations/` (run at start; two instances starting at once take turns
//! on an advisory lock), and the tokens ([`PgTokens`]). The uploads' state and their bytes
//! in S3-compatible storage come next.

mod tokens;

use deadpool_postgres::{Manager, Object, Pool};
use tokio_postgres::NoTls;

use crate::error::{with_causes, Error, Result};

pub use tokens::PgTokens;

/// The migrations, in order: (version, name, SQL). A version once released never changes.
const MIGRATIONS: [(i32, &str, &str); 1] = [(1, "tokens", include_str!("migrations/001_tokens.sql"))];

/// The advisory lock that serialises migrations across instances (any constant; "WSMIGRAT").
const MIGRATION_LOCK: i64 = 0x5753_4d49_4752_4154;

/// Connections each instance keeps at most.
const POOL_SIZE: usize = 16;

/// A pool of connections to the state database.
#[derive(Clone)]
pub struct Pg {
    pool: Pool,
    /// Where it is, for errors: `user@host:port/database` (never the password).
    at: String,
}

impl Pg {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`) and brings the
    /// schema up to date. A wrong URL, an unreachable server, a missing database or refused
    /// credentials are each an error that says which.
    pub async fn connect(url: &str) -> Result<Pg> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| Error::Postgres {
            at: "--state".into(),
            why: format!("not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE): {e}"),
        })?;
        let at = describe(&config);
        let manager = Manager::new(config, NoTls);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| Error::Postgres { at: at.clone(), why: e.to_string() })?;
        let pg = Pg { pool, at };
        pg.migrate().await?;
        Ok(pg)
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<Object> {
        match self.pool.get().await {
            Ok(client) => Ok(client),
            // The database's own words, without the pool's wrapping.
            Err(deadpool_postgres::PoolError::Backend(e)) => Err(self.error(e)),
            Err(e) => Err(self.error(e)),
        }
    }

    /// `e`, said of this database.
    pub(crate) fn error(&self, e: impl std::error::Error) -> Error {
        Error::Postgres { at: self.at.clone(), why: with_causes(&e) }
    }

    /// Applies the migrations this database lacks; returns how many. One instance at a time:
    /// the others wait on the advisory lock, then find nothing left to do.
    pub async fn migrate(&self) -> Result<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.error(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.error(e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|e| self.error(e))?;
        let done: Vec<i32> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(|e| self.error(e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut applied = 0;
        for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| !done.contains(v)) {
            tx.batch_execute(sql).await.map_err(|e| self.error(e))?;
            tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name])
                .await
                .map_err(|e| self.error(e))?;
            applied += 1;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(applied)
    }
}

/// `user@host:port/database` of `config`, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("(no user)"),
        config.get_dbname().unwrap_or("(no database)")
    )
}
