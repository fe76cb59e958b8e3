//! The catalog in Postgres (server deployments). Migrations are applied at start-up; many
//! processes may share one database (the statements are written for concurrent workers).

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
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
    /// waits up to 10 seconds for one. Each connection names its process in
    /// `pg_stat_activity.application_name` (see [`application_name`]).
    ///
    /// # Errors
    /// The URL is malformed, the database is unreachable or the migrations fail.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(db_err)?;
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name(&application_name()),
        };
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
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

/// The name a process's connections show in `pg_stat_activity`, so an operator can tell the
/// functions apart: the Lambda function's name where there is one, otherwise the executable's
/// (`kb`, `crawl-page`, ...). An `application_name` in `DATABASE_URL` or `PGAPPNAME` wins.
#[must_use]
pub fn application_name() -> String {
    application_name_of(std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(), std::env::current_exe().ok())
}

fn application_name_of(lambda_function: Option<String>, exe: Option<std::path::PathBuf>) -> String {
    let mut name = lambda_function
        .filter(|n| !n.is_empty())
        .or_else(|| exe.and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned())))
        .unwrap_or_else(|| "kb".to_owned());
    // Postgres keeps the first 63 bytes; cut on a character boundary.
    while name.len() > 63 {
        name.pop();
    }
    name
}

impl_sql_catalog!(PostgresCatalog, Postgres, |s| s.pool.begin());

#[cfg(test)]
mod tests;
