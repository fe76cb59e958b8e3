//! The catalog in a SQLite file (the embedded default).

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::{db_err, ChunkRow, KbRow, PageRow, SourceRow, INSERT_BATCH};
use crate::domain::{
    Chunk, ChunkId, KbId, KbStats, KbStatus, KnowledgeBase, NewPage, Page, PageId, PageStatus, PageUpdate,
    PipelineId, Source, SourceId,
};
use crate::error::StoreError;
use crate::ports::{Admission, StoredChunk};

pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog at a `sqlite://` URL or a file path, and
    /// applies pending migrations.
    ///
    /// # Errors
    /// The file cannot be opened or migrated.
    pub async fn open(url_or_path: &str) -> Result<Self, StoreError> {
        let options = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path).map_err(db_err)?
        } else {
            if let Some(dir) = Path::new(url_or_path).parent() {
                std::fs::create_dir_all(dir).map_err(StoreError::unknown)?;
            }
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(super::SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(db_err)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unknown(anyhow::Error::new(e).context("applying SQLite migrations")))?;
        Ok(Self { pool })
    }
}

impl_sql_catalog!(SqliteCatalog, Sqlite, |s| s.pool.begin_with("BEGIN IMMEDIATE"));

#[cfg(test)]
mod tests;
