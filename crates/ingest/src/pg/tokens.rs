//! Bearer tokens in PostgreSQL: the same rules as the local server's (`auth.rs`), the
//! uniqueness of a live name kept by a partial unique index rather than a look-up first,
//! so two instances adding the same name at once cannot both succeed.

use async_trait::async_trait;

use super::Pg;
use crate::auth::{hash, mint, name_taken, Principal, TokenAdmin, TokenInfo, Tokens};
use crate::db::now;
use crate::error::Result;

/// Tokens in the shared state database.
#[derive(Clone)]
pub struct PgTokens {
    pg: Pg,
}

impl PgTokens {
    pub fn new(pg: Pg) -> PgTokens {
        PgTokens { pg }
    }
}

#[async_trait]
impl TokenAdmin for PgTokens {
    async fn add(&self, name: &str, admin: bool) -> Result<String> {
        let (token, digest) = mint(name)?;
        let client = self.pg.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO tokens (name, hash, admin, created) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) WHERE revoked IS NULL DO NOTHING",
                &[&name, &digest, &admin, &(now() as i64)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        if inserted == 0 {
            return Err(name_taken(name));
        }
        Ok(token)
    }

    async fn list(&self) -> Result<Vec<TokenInfo>> {
        let client = self.pg.client().await?;
        let rows = client
            .query("SELECT id, name, admin, created, revoked FROM tokens ORDER BY id", &[])
            .await
            .map_err(|e| self.pg.error(e))?;
        Ok(rows
            .iter()
            .map(|r| TokenInfo {
                id: r.get(0),
                name: r.get(1),
                admin: r.get(2),
                created: r.get::<_, i64>(3) as u64,
                revoked: r.get::<_, Option<i64>>(4).is_some(),
            })
            .collect())
    }

    async fn revoke(&self, name: &str) -> Result<bool> {
        let client = self.pg.client().await?;
        let n = client
            .execute(
                "UPDATE tokens SET revoked = $2 WHERE name = $1 AND revoked IS NULL",
                &[&name, &(now() as i64)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        Ok(n > 0)
    }
}

#[async_trait]
impl Tokens for PgTokens {
    async fn verify(&self, token: &str) -> Result<Option<Principal>> {
        let client = self.pg.client().await?;
        let row = client
            .query_opt(
                "SELECT id, name, admin FROM tokens WHERE hash = $1 AND revoked IS NULL",
                &[&hash(token)],
            )
            .await
            .map_err(|e| self.pg.error(e))?;
        Ok(row.map(|r| Principal { id: r.get(0), name: r.get(1), admin: r.get(2) }))
    }
}
