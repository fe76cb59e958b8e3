//! The catalog in Postgres (server deployments). Migrations are applied at start-up; many
//! processes may share one database (the statements are written for concurrent workers).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use super::{db_err, ChunkRow, KbRow, PageRow, SourceRow, INSERT_BATCH};
use crate::domain::{
    Chunk, ChunkId, KbId, KbStats, KbStatus, KnowledgeBase, NewPage, Page, PageId, PageStatus, PageUpdate,
    PipelineId, Source, SourceId,
};
use crate::error::StoreError;
use crate::ports::{Admission, StoredChunk};

pub struct PostgresCatalog {
    pool: PgPool,
}

impl PostgresCatalog {
    /// Connects with a pool of the default size and applies pending migrations.
    ///
    /// # Errors
    /// The database is unreachable or the migrations fail.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, crate::settings::DEFAULT_DB_MAX_CONNECTIONS).await
    }

    /// Connects with a pool of at most `max_connections` (`KB_DB_MAX_CONNECTIONS`) and applies
    /// pending migrations. Connections open on demand; a request that finds every one busy
    /// waits up to 10 seconds for one.
    ///
    /// # Errors
    /// The database is unreachable or the migrations fail.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db_err)?;
        Self::migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// Applies the catalog migrations (under an advisory lock, so concurrent starters wait).
    ///
    /// # Errors
    /// A migration failed.
    pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .map_err(|e| StoreError::Unknown(anyhow::Error::new(e).context("applying Postgres migrations")))
    }

    /// The connection pool (shared with the pgvector index).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_sql_catalog!(PostgresCatalog, Postgres, |s| s.pool.begin());

#[cfg(test)]
mod tests;
