//! Bearer tokens, one per photographer or studio. Only the SHA-256 of a token is stored:
//! the token itself is shown once, when it is made.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{now, Db};
use crate::error::{Error, Result};

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub name: String,
    pub admin: bool,
}

/// Looks a presented token up. A backend for many servers (PostgreSQL) implements this too.
#[async_trait]
pub trait Tokens: Send + Sync + 'static {
    /// The live token's owner, or `None` for an unknown or revoked token.
    async fn verify(&self, token: &str) -> Result<Option<Principal>>;
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub admin: bool,
    /// Unix seconds.
    pub created: u64,
    pub revoked: bool,
}

/// Tokens in the state database.
#[derive(Clone)]
pub struct SqliteTokens {
    db: Db,
}

/// Making, listing and revoking tokens (`wedsync serve token`), whichever database holds them.
#[async_trait]
pub trait TokenAdmin: Send + Sync {
    /// Makes a token for `name` and returns it (shown once): names are unique among live
    /// tokens.
    async fn add(&self, name: &str, admin: bool) -> Result<String>;
    async fn list(&self) -> Result<Vec<TokenInfo>>;
    /// Revokes the live token named `name`; false if there is none.
    async fn revoke(&self, name: &str) -> Result<bool>;
}

pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token for `name`, and its digest: `wst_` and 64 hex digits from the OS's random
/// source. Names are 1–200 printable characters.
pub(crate) fn mint(name: &str) -> Result<(String, String)> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::Invalid {
            id: name.to_string(),
            why: "token names are 1–200 printable characters".into(),
        });
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| Error::Task(format!("random token: {e}")))?;
    let token = format!("wst_{}", hex::encode(raw));
    let digest = hash(&token);
    Ok((token, digest))
}

/// The error for a name that a live token already has.
pub(crate) fn name_taken(name: &str) -> Error {
    Error::Invalid { id: name.to_string(), why: "a live token has this name".into() }
}

impl SqliteTokens {
    pub fn new(db: Db) -> SqliteTokens {
        SqliteTokens { db }
    }

    /// Makes a token for `name` and returns it: `wst_` and 64 hex digits from the OS's
    /// random source. Names are unique among live tokens.
    pub fn add(&self, name: &str, admin: bool) -> Result<String> {
        let (token, digest) = mint(name)?;
        let taken = self.db.with(|c| {
            let tx = c.transaction()?;
            let taken = tx
                .query_row("SELECT 1 FROM tokens WHERE name = ?1 AND revoked IS NULL", [name], |_| Ok(()))
                .optional()?
                .is_some();
            if !taken {
                tx.execute(
                    "INSERT INTO tokens (name, hash, admin, created) VALUES (?1, ?2, ?3, ?4)",
                    params![name, digest, admin, now() as i64],
                )?;
            }
            tx.commit()?;
            Ok(taken)
        })?;
        if taken {
            return Err(name_taken(name));
        }
        Ok(token)
    }

    pub fn list(&self) -> Result<Vec<TokenInfo>> {
        self.db.with(|c| {
            let mut stmt = c.prepare("SELECT id, name, admin, created, revoked FROM tokens ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    admin: r.get(2)?,
                    created: r.get::<_, i64>(3)? as u64,
                    revoked: r.get::<_, Option<i64>>(4)?.is_some(),
                })
            })?;
            rows.collect()
        })
    }

    /// Revokes the live token named `name`; false if there is none.
    pub fn revoke(&self, name: &str) -> Result<bool> {
        let n = self.db.with(|c| {
            c.execute(
                "UPDATE tokens SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
                params![name, now() as i64],
            )
        })?;
        Ok(n > 0)
    }
}

#[async_trait]
impl TokenAdmin for SqliteTokens {
    async fn add(&self, name: &str, admin: bool) -> Result<String> {
        SqliteTokens::add(self, name, admin)
    }

    async fn list(&self) -> Result<Vec<TokenInfo>> {
        SqliteTokens::list(self)
    }

    async fn revoke(&self, name: &str) -> Result<bool> {
        SqliteTokens::revoke(self, name)
    }
}

#[async_trait]
impl Tokens for SqliteTokens {
    async fn verify(&self, token: &str) -> Result<Option<Principal>> {
        let digest = hash(token);
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT id, name, admin FROM tokens WHERE hash = ?1 AND revoked IS NULL",
                    [digest],
                    |r| Ok(Principal { id: r.get(0)?, name: r.get(1)?, admin: r.get(2)? }),
                )
                .optional()
            })
            .await
    }
}
