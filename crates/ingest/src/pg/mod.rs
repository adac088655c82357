//! The ingestion server's state in PostgreSQL, for several `wedsync serve` instances that
//! share one database: the connection pool, the numbered migrations in `pg/migrations/`
//! (run at start; two instances starting at once take turns on an advisory lock),
//! notifications between instances ([`Pg::listen`]), and the tokens ([`PgTokens`]). The
//! uploads' state is the cluster store's (`store/cluster/`).

mod tokens;

use deadpool_postgres::{Manager, Object, Pool};
use tokio_postgres::NoTls;

use crate::error::{with_causes, Error, Result};

pub use tokens::PgTokens;

/// The migrations, in order: (version, name, SQL). A version once released never changes.
const MIGRATIONS: [(i32, &str, &str); 3] = [
    (1, "tokens", include_str!("migrations/001_tokens.sql")),
    (2, "uploads", include_str!("migrations/002_uploads.sql")),
    (3, "reports", include_str!("migrations/003_reports.sql")),
];

/// The advisory lock that serialises migrations across instances (any constant; "WSMIGRAT").
const MIGRATION_LOCK: i64 = 0x5753_4d49_4752_4154;

/// Connections each instance keeps at most.
const POOL_SIZE: usize = 16;

/// A pool of connections to the state database.
#[derive(Clone)]
pub struct Pg {
    pool: Pool,
    /// For connections outside the pool (a listener).
    config: tokio_postgres::Config,
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
        let manager = Manager::new(config.clone(), NoTls);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| Error::Postgres { at: at.clone(), why: e.to_string() })?;
        let pg = Pg { pool, config, at };
        pg.migrate().await?;
        Ok(pg)
    }

    /// `user@host:port/database`, for messages.
    pub fn at(&self) -> &str {
        &self.at
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

    /// Listens on `channel` on a connection of its own: every notification's payload goes
    /// to `to`. Returns when the connection ends (the server restarted, say) or `to` is
    /// closed; the caller listens again.
    pub(crate) async fn listen(&self, channel: &str, to: &tokio::sync::mpsc::Sender<String>) -> Result<()> {
        let (client, mut connection) = self.config.connect(NoTls).await.map_err(|e| self.error(e))?;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let statement = format!("LISTEN {channel}");
        let listen = client.batch_execute(&statement);
        // The LISTEN's reply arrives through the connection, so both are driven together.
        let mut listen = std::pin::pin!(listen);
        let mut listening = false;
        loop {
            tokio::select! {
                done = &mut listen, if !listening => {
                    done.map_err(|e| self.error(e))?;
                    listening = true;
                }
                message = futures_util::StreamExt::next(&mut messages) => match message {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                        if to.send(n.payload().to_string()).await.is_err() {
                            return Ok(());
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(self.error(e)),
                    None => return Ok(()),
                },
                _ = to.closed() => return Ok(()),
            }
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
