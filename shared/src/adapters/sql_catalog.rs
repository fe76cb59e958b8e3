//! The catalog on SQL: SQLite for the embedded deployment, Postgres for servers. Both run
//! the same statements (written once, in [`impl_sql_catalog`]); only the pool, the
//! migrations and how a write transaction begins differ.


use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{
    Chunk, ChunkId, KbConfig, KbId, KbStatus, KnowledgeBase, Page, PageId, PageStatus, PipelineId, Source,
    SourceId, SourceSpec,
};
use crate::error::StoreError;
use crate::ports::StoredChunk;

/// Rows written per multi-row INSERT (well under every backend's bind-parameter limit).
const INSERT_BATCH: usize = 200;

macro_rules! page_columns {
    () => {
        "id, kb_id, source_id, url, depth, status, reason, title, chunk_count, content_hash, links"
    };
}
macro_rules! chunk_columns {
    () => {
        "id, kb_id, document_id, source_id, chunk_index, content, url, title, heading_path, anchor, \
         start_offset, end_offset, token_count, embedded"
    };
}
macro_rules! kb_columns {
    () => {
        "id, workspace_id, name, description, status, config, pipeline_id, created_by, created_at, \
         updated_at, finished_at"
    };
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.message().to_owned()),
        _ => StoreError::Unknown(anyhow::Error::new(e)),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KbRow {
    id: Uuid,
    workspace_id: String,
    name: String,
    description: Option<String>,
    status: String,
    config: Json<KbConfig>,
    pipeline_id: Uuid,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<KbRow> for KnowledgeBase {
    type Error = StoreError;
    fn try_from(r: KbRow) -> Result<Self, StoreError> {
        Ok(KnowledgeBase {
            id: KbId(r.id),
            workspace_id: r.workspace_id,
            name: r.name,
            description: r.description,
            status: KbStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown KB status {:?}", r.status)))?,
            config: r.config.0,
            pipeline_id: PipelineId(r.pipeline_id),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SourceRow {
    id: Uuid,
    spec: Json<SourceSpec>,
    created_at: DateTime<Utc>,
}

impl From<SourceRow> for Source {
    fn from(r: SourceRow) -> Self {
        Source { id: SourceId(r.id), spec: r.spec.0, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PageRow {
    id: Uuid,
    kb_id: Uuid,
    source_id: Uuid,
    url: String,
    depth: i64,
    status: String,
    reason: Option<String>,
    title: Option<String>,
    chunk_count: i64,
    content_hash: Option<String>,
    links: Json<Vec<String>>,
}

impl TryFrom<PageRow> for Page {
    type Error = StoreError;
    fn try_from(r: PageRow) -> Result<Self, StoreError> {
        Ok(Page {
            id: PageId(r.id),
            kb_id: KbId(r.kb_id),
            source_id: SourceId(r.source_id),
            url: r.url,
            depth: u32::try_from(r.depth).unwrap_or(u32::MAX),
            status: PageStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown page status {:?}", r.status)))?,
            reason: r.reason,
            title: r.title,
            chunk_count: u32::try_from(r.chunk_count).unwrap_or(0),
            content_hash: r.content_hash,
            links: r.links.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChunkRow {
    id: Uuid,
    kb_id: Uuid,
    document_id: Uuid,
    source_id: Uuid,
    chunk_index: i64,
    content: String,
    url: String,
    title: Option<String>,
    heading_path: Json<Vec<String>>,
    anchor: Option<String>,
    start_offset: i64,
    end_offset: i64,
    token_count: i64,
    embedded: bool,
}

impl From<ChunkRow> for StoredChunk {
    fn from(r: ChunkRow) -> Self {
        let n = |v: i64| u32::try_from(v).unwrap_or(0);
        StoredChunk {
            chunk: Chunk {
                id: ChunkId(r.id),
                kb_id: KbId(r.kb_id),
                page_id: PageId(r.document_id),
                source_id: SourceId(r.source_id),
                index: n(r.chunk_index),
                text: r.content,
                url: r.url,
                title: r.title,
                heading_path: r.heading_path.0,
                anchor: r.anchor,
                start: n(r.start_offset),
                end: n(r.end_offset),
                token_count: n(r.token_count),
            },
            embedded: r.embedded,
        }
    }
}

/// How long a writer waits for SQLite's write lock before giving up.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Implements [`crate::ports::Catalog`] for `$ty` (a struct with a `pool` field of
/// `sqlx::Pool<$db>`); `$begin` opens a write transaction on `$self.pool`.
macro_rules! impl_sql_catalog {
    ($ty:ty, $db:ty, |$s:ident| $begin:expr) => {
        impl $ty {
            async fn begin_write(&self) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                let $s = self;
                $begin.await.map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl $crate::ports::Catalog for $ty {
            async fn create_kb(
                &self,
                kb: &KnowledgeBase,
                sources: &[Source],
                pages: &[NewPage],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(concat!(
                    "INSERT INTO knowledge_bases (", kb_columns!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(kb.id.0)
                .bind(&kb.workspace_id)
                .bind(&kb.name)
                .bind(&kb.description)
                .bind(kb.status.as_str())
                .bind(Json(&kb.config))
                .bind(kb.pipeline_id.0)
                .bind(&kb.created_by)
                .bind(kb.created_at)
                .bind(kb.updated_at)
                .bind(kb.finished_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                for source in sources {
                    let admitted = pages.iter().filter(|p| p.source_id == source.id).count() as i64;
                    sqlx::query(
                        "INSERT INTO sources (id, kb_id, kind, spec, pages_admitted, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(source.id.0)
                    .bind(kb.id.0)
                    .bind(source.spec.kind())
                    .bind(Json(&source.spec))
                    .bind(admitted)
                    .bind(source.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                let now = crate::domain::now();
                for page in pages {
                    insert_page(&mut tx, kb.id, page, now).await?;
                }
                tx.commit().await.map_err(db_err)
            }

            async fn get_kb(&self, id: KbId) -> Result<Option<KnowledgeBase>, StoreError> {
                sqlx::query_as::<_, KbRow>(concat!("SELECT ", kb_columns!(), " FROM knowledge_bases WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .map(KnowledgeBase::try_from)
                    .transpose()
            }

            async fn get_kb_by_pipeline(&self, id: PipelineId) -> Result<Option<KnowledgeBase>, StoreError> {
                sqlx::query_as::<_, KbRow>(concat!(
                    "SELECT ", kb_columns!(), " FROM knowledge_bases WHERE pipeline_id = $1"
                ))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .map(KnowledgeBase::try_from)
                .transpose()
            }

            async fn list_kbs(&self, workspaces: Option<&[String]>) -> Result<Vec<KnowledgeBase>, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(concat!("SELECT ", kb_columns!(), " FROM knowledge_bases"));
                if let Some(ws) = workspaces {
                    if ws.is_empty() {
                        return Ok(Vec::new());
                    }
                    q.push(" WHERE workspace_id IN (");
                    let mut list = q.separated(", ");
                    for w in ws {
                        list.push_bind(w.clone());
                    }
                    q.push(")");
                }
                q.push(" ORDER BY created_at DESC, id");
                q.build_query_as::<KbRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(KnowledgeBase::try_from)
                    .collect()
            }

            async fn delete_kb(&self, id: KbId) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                for sql in [
                    "DELETE FROM chunks WHERE kb_id = $1",
                    "DELETE FROM documents WHERE kb_id = $1",
                    "DELETE FROM sources WHERE kb_id = $1",
                ] {
                    sqlx::query(sql).bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
                }
                let deleted = sqlx::query("DELETE FROM knowledge_bases WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                tx.commit().await.map_err(db_err)?;
                Ok(deleted > 0)
            }

            async fn finish_kb(&self, id: KbId, status: KbStatus) -> Result<bool, StoreError> {
                let now = crate::domain::now();
                let n = sqlx::query(
                    "UPDATE knowledge_bases SET status = $2, finished_at = $3, updated_at = $3 \
                     WHERE id = $1 AND status = 'processing'",
                )
                .bind(id.0)
                .bind(status.as_str())
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
                Ok(n == 1)
            }

            async fn list_sources(&self, kb: KbId) -> Result<Vec<Source>, StoreError> {
                Ok(sqlx::query_as::<_, SourceRow>(
                    "SELECT id, spec, created_at FROM sources WHERE kb_id = $1 ORDER BY created_at, id",
                )
                .bind(kb.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(Source::from)
                .collect())
            }

            async fn admit_pages(
                &self,
                kb: KbId,
                source: SourceId,
                max_pages: u32,
                pages: &[NewPage],
            ) -> Result<Admission, StoreError> {
                let mut admission = Admission::default();
                if pages.is_empty() {
                    return Ok(admission);
                }
                // Same order in every transaction, so concurrent admissions cannot deadlock.
                let mut candidates: Vec<&NewPage> = pages.iter().collect();
                // (By page key: the two trailing-slash spellings of a URL are one page.)
                let key = |p: &NewPage| crate::domain::page_key(&p.url).to_owned();
                candidates.sort_by(|a, b| key(a).cmp(&key(b)).then(a.depth.cmp(&b.depth)));
                candidates.dedup_by(|a, b| a.id == b.id);

                let mut tx = self.begin_write().await?;
                // Lock the source's budget row first: admissions of one source are serial.
                let used: Option<i64> = sqlx::query_scalar(
                    "UPDATE sources SET pages_admitted = pages_admitted WHERE id = $1 AND kb_id = $2 \
                     RETURNING pages_admitted",
                )
                .bind(source.0)
                .bind(kb.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
                let Some(mut used) = used else {
                    return Ok(admission);
                };
                let now = crate::domain::now();
                let budget = i64::from(max_pages);
                for page in candidates {
                    if used < budget && insert_page(&mut tx, kb, page, now).await? {
                        used += 1;
                        admission.admitted.push(page.clone());
                        continue;
                    }
                    // The known page may be stored under the URL's other spelling: the
                    // deepened page is reported under the stored one.
                    let lowered: Option<String> = sqlx::query_scalar(
                        "UPDATE documents SET depth = $3, updated_at = $4 \
                         WHERE kb_id = $1 AND id = $2 AND depth > $3 RETURNING url",
                    )
                    .bind(kb.0)
                    .bind(page.id.0)
                    .bind(i64::from(page.depth))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if let Some(url) = lowered {
                        admission.deepened.push(NewPage { url, ..page.clone() });
                    } else if used >= budget {
                        let known: Option<i64> =
                            sqlx::query_scalar("SELECT depth FROM documents WHERE kb_id = $1 AND id = $2")
                                .bind(kb.0)
                                .bind(page.id.0)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db_err)?;
                        if known.is_none() {
                            admission.over_budget += 1;
                        }
                    }
                }
                sqlx::query("UPDATE sources SET pages_admitted = $2 WHERE id = $1")
                    .bind(source.0)
                    .bind(used)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(admission)
            }

            async fn get_page(&self, kb: KbId, id: PageId) -> Result<Option<Page>, StoreError> {
                sqlx::query_as::<_, PageRow>(concat!(
                    "SELECT ", page_columns!(), " FROM documents WHERE kb_id = $1 AND id = $2"
                ))
                .bind(kb.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .map(Page::try_from)
                .transpose()
            }

            async fn get_page_by_url(&self, kb: KbId, url: &str) -> Result<Option<Page>, StoreError> {
                sqlx::query_as::<_, PageRow>(concat!(
                    "SELECT ", page_columns!(), " FROM documents WHERE kb_id = $1 AND (url = $2 OR id = $3) ",
                    "ORDER BY url = $2 DESC LIMIT 1"
                ))
                .bind(kb.0)
                .bind(url)
                .bind(crate::domain::PageId::derive(kb, url).0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .map(Page::try_from)
                .transpose()
            }

            async fn list_pages(&self, kb: KbId) -> Result<Vec<Page>, StoreError> {
                sqlx::query_as::<_, PageRow>(concat!(
                    "SELECT ", page_columns!(), " FROM documents WHERE kb_id = $1 ORDER BY depth, url"
                ))
                .bind(kb.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(Page::try_from)
                .collect()
            }

            async fn queued_among(&self, kb: KbId, ids: &[PageId]) -> Result<Vec<PageId>, StoreError> {
                let mut out = Vec::new();
                for batch in ids.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT id FROM documents WHERE kb_id = ");
                    q.push_bind(kb.0).push(" AND status = 'queued' AND id IN (");
                    let mut list = q.separated(", ");
                    for id in batch {
                        list.push_bind(id.0);
                    }
                    q.push(")");
                    let rows: Vec<Uuid> = q.build_query_scalar().fetch_all(&self.pool).await.map_err(db_err)?;
                    out.extend(rows.into_iter().map(PageId));
                }
                Ok(out)
            }

            async fn transition_page(
                &self,
                kb: KbId,
                id: PageId,
                from: &[PageStatus],
                to: PageStatus,
                update: &PageUpdate,
            ) -> Result<bool, StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE documents SET status = ");
                q.push_bind(to.as_str()).push(", updated_at = ").push_bind(crate::domain::now());
                if let Some(reason) = &update.reason {
                    q.push(", reason = ").push_bind(reason.clone());
                }
                if let Some(title) = &update.title {
                    q.push(", title = ").push_bind(title.clone());
                }
                if let Some(n) = update.chunk_count {
                    q.push(", chunk_count = ").push_bind(i64::from(n));
                }
                if let Some(hash) = &update.content_hash {
                    q.push(", content_hash = ").push_bind(hash.clone());
                }
                if let Some(links) = &update.links {
                    q.push(", links = ").push_bind(Json(links.clone()));
                }
                q.push(" WHERE kb_id = ").push_bind(kb.0).push(" AND id = ").push_bind(id.0);
                q.push(" AND status IN (");
                let mut list = q.separated(", ");
                for s in from {
                    list.push_bind(s.as_str());
                }
                q.push(")");
                let n = q.build().execute(&self.pool).await.map_err(db_err)?.rows_affected();
                Ok(n == 1)
            }

            async fn find_page_by_hash(
                &self,
                kb: KbId,
                hash: &str,
                except: PageId,
            ) -> Result<Option<Page>, StoreError> {
                sqlx::query_as::<_, PageRow>(concat!(
                    "SELECT ", page_columns!(), " FROM documents WHERE kb_id = $1 AND content_hash = $2 ",
                    "AND id <> $3 AND status IN ('fetched', 'chunked', 'indexed') ORDER BY created_at, url LIMIT 1"
                ))
                .bind(kb.0)
                .bind(hash)
                .bind(except.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .map(Page::try_from)
                .transpose()
            }

            async fn put_chunks(&self, kb: KbId, page: PageId, chunks: &[Chunk]) -> Result<Vec<ChunkId>, StoreError> {
                let mut tx = self.begin_write().await?;
                let existing: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM chunks WHERE kb_id = $1 AND document_id = $2")
                    .bind(kb.0)
                    .bind(page.0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let keep: std::collections::HashSet<Uuid> = chunks.iter().map(|c| c.id.0).collect();
                let removed: Vec<ChunkId> =
                    existing.iter().filter(|id| !keep.contains(id)).copied().map(ChunkId).collect();
                for batch in removed.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("DELETE FROM chunks WHERE id IN (");
                    let mut list = q.separated(", ");
                    for id in batch {
                        list.push_bind(id.0);
                    }
                    q.push(")");
                    q.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                let now = crate::domain::now();
                for batch in chunks.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                        "INSERT INTO chunks (", chunk_columns!(), ", created_at) "
                    ));
                    q.push_values(batch, |mut row, c| {
                        row.push_bind(c.id.0)
                            .push_bind(kb.0)
                            .push_bind(page.0)
                            .push_bind(c.source_id.0)
                            .push_bind(i64::from(c.index))
                            .push_bind(c.text.clone())
                            .push_bind(c.url.clone())
                            .push_bind(c.title.clone())
                            .push_bind(Json(c.heading_path.clone()))
                            .push_bind(c.anchor.clone())
                            .push_bind(i64::from(c.start))
                            .push_bind(i64::from(c.end))
                            .push_bind(i64::from(c.token_count))
                            .push_bind(false)
                            .push_bind(now);
                    });
                    q.push(" ON CONFLICT (id) DO NOTHING");
                    q.build().execute(&mut *tx).await.map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(removed)
            }

            async fn get_chunks(&self, kb: KbId, ids: &[ChunkId]) -> Result<Vec<StoredChunk>, StoreError> {
                let mut out = Vec::with_capacity(ids.len());
                for batch in ids.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(concat!("SELECT ", chunk_columns!(), " FROM chunks WHERE kb_id = "));
                    q.push_bind(kb.0).push(" AND id IN (");
                    let mut list = q.separated(", ");
                    for id in batch {
                        list.push_bind(id.0);
                    }
                    q.push(") ORDER BY document_id, chunk_index");
                    let rows = q.build_query_as::<ChunkRow>().fetch_all(&self.pool).await.map_err(db_err)?;
                    out.extend(rows.into_iter().map(StoredChunk::from));
                }
                Ok(out)
            }

            async fn page_chunks(&self, kb: KbId, page: PageId) -> Result<Vec<StoredChunk>, StoreError> {
                Ok(sqlx::query_as::<_, ChunkRow>(concat!(
                    "SELECT ", chunk_columns!(), " FROM chunks WHERE kb_id = $1 AND document_id = $2 ORDER BY chunk_index"
                ))
                .bind(kb.0)
                .bind(page.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(StoredChunk::from)
                .collect())
            }

            async fn mark_embedded(&self, kb: KbId, ids: &[ChunkId]) -> Result<u64, StoreError> {
                let mut n = 0;
                for batch in ids.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE chunks SET embedded = TRUE WHERE kb_id = ");
                    q.push_bind(kb.0).push(" AND embedded = FALSE AND id IN (");
                    let mut list = q.separated(", ");
                    for id in batch {
                        list.push_bind(id.0);
                    }
                    q.push(")");
                    n += q.build().execute(&self.pool).await.map_err(db_err)?.rows_affected();
                }
                Ok(n)
            }

            async fn complete_embedded_pages(&self, kb: KbId, pages: &[PageId]) -> Result<u64, StoreError> {
                let mut n = 0;
                for batch in pages.chunks(INSERT_BATCH) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE documents SET status = 'indexed', updated_at = ");
                    q.push_bind(crate::domain::now()).push(" WHERE kb_id = ").push_bind(kb.0);
                    q.push(" AND status = 'chunked' AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = documents.id AND c.embedded = FALSE) AND id IN (");
                    let mut list = q.separated(", ");
                    for id in batch {
                        list.push_bind(id.0);
                    }
                    q.push(")");
                    n += q.build().execute(&self.pool).await.map_err(db_err)?.rows_affected();
                }
                Ok(n)
            }

            async fn stats(&self, kb: KbId) -> Result<KbStats, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM documents WHERE kb_id = $1 GROUP BY status")
                        .bind(kb.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                let mut stats = KbStats::default();
                for (status, count) in rows {
                    let count = u64::try_from(count).unwrap_or(0);
                    match PageStatus::parse(&status) {
                        Some(PageStatus::Queued) => stats.pages_queued = count,
                        Some(PageStatus::Fetched) => stats.pages_fetched = count,
                        Some(PageStatus::Chunked) => stats.pages_chunked = count,
                        Some(PageStatus::Indexed) => stats.pages_indexed = count,
                        Some(PageStatus::Failed) => stats.pages_failed = count,
                        Some(PageStatus::Skipped) => stats.pages_skipped = count,
                        None => return Err(StoreError::Corrupt(format!("unknown page status {status:?}"))),
                    }
                }
                let rows: Vec<(bool, i64)> =
                    sqlx::query_as("SELECT embedded, COUNT(*) FROM chunks WHERE kb_id = $1 GROUP BY embedded")
                        .bind(kb.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                for (embedded, count) in rows {
                    let count = u64::try_from(count).unwrap_or(0);
                    stats.chunks += count;
                    if embedded {
                        stats.chunks_embedded += count;
                    }
                }
                Ok(stats)
            }

            async fn failed_pages(&self, kb: KbId, limit: u32) -> Result<Vec<Page>, StoreError> {
                sqlx::query_as::<_, PageRow>(concat!(
                    "SELECT ", page_columns!(), " FROM documents WHERE kb_id = $1 AND status = 'failed' ",
                    "ORDER BY url LIMIT $2"
                ))
                .bind(kb.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(Page::try_from)
                .collect()
            }
        }

        /// Inserts a page unless its URL is known; `true` when inserted.
        async fn insert_page(
            tx: &mut sqlx::Transaction<'static, $db>,
            kb: KbId,
            page: &NewPage,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let n = sqlx::query(
                "INSERT INTO documents (id, kb_id, source_id, url, depth, status, links, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $7) ON CONFLICT DO NOTHING",
            )
            .bind(page.id.0)
            .bind(kb.0)
            .bind(page.source_id.0)
            .bind(&page.url)
            .bind(i64::from(page.depth))
            .bind(Json(Vec::<String>::new()))
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            Ok(n == 1)
        }
    };
}

#[cfg(test)]
pub(crate) mod contract;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "postgres")]
pub use postgres::PostgresCatalog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteCatalog;
