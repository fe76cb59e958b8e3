//! Vector index in Postgres with pgvector, for deployments without a Qdrant server: one
//! table per vector dimension (`chunk_vectors_<dim>`), exact cosine search within a
//! knowledge base (correct whatever the filters; fast at the sizes this index is meant
//! for), Postgres full-text search as the keyword side, and the two fused for hybrid search
//! ([`hybrid_search`]).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;

use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{ChunkId, KbId, SearchMode};
use crate::error::StoreError;
use crate::ports::{hybrid_search, ChunkPayload, IndexHit, IndexPoint, IndexQuery, VectorIndex};

use super::sql_catalog::db_err;

pub struct PgVectorIndex {
    pool: PgPool,
    /// Dimensions whose table exists.
    ready: Mutex<HashSet<usize>>,
}

fn table(dim: usize) -> String {
    format!("chunk_vectors_{dim}")
}

fn vector_literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{x}");
    }
    s.push(']');
    s
}

#[derive(sqlx::FromRow)]
struct HitRow {
    chunk_id: Uuid,
    payload: Json<ChunkPayload>,
    score: f64,
}

impl PgVectorIndex {
    /// Enables the extension (needs a role allowed to `CREATE EXTENSION` the first time).
    ///
    /// # Errors
    /// pgvector is not installed in the server, or the database is unreachable.
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        sqlx::query("CREATE EXTENSION IF NOT EXISTS vector").execute(&pool).await.map_err(|e| {
            StoreError::Unknown(anyhow::Error::new(e).context("enabling pgvector (is the extension installed in Postgres?)"))
        })?;
        Ok(Self { pool, ready: Mutex::new(HashSet::new()) })
    }

    async fn ensure(&self, dim: usize) -> Result<(), StoreError> {
        if self.ready.lock().expect("lock").contains(&dim) {
            return Ok(());
        }
        let t = table(dim);
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    chunk_id UUID PRIMARY KEY,
                    kb_id UUID NOT NULL,
                    source_id UUID NOT NULL,
                    url TEXT NOT NULL,
                    payload JSONB NOT NULL,
                    embedding vector({dim}) NOT NULL,
                    keywords tsvector NOT NULL)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {t}_kb ON {t} (kb_id, source_id)"),
            format!("CREATE INDEX IF NOT EXISTS {t}_keywords ON {t} USING gin (keywords)"),
        ];
        // Serialise concurrent creators (CREATE ... IF NOT EXISTS races on the catalog).
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(7264917)").execute(&mut *tx).await.map_err(db_err)?;
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s)).execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        self.ready.lock().expect("lock").insert(dim);
        Ok(())
    }

    /// Tables of every dimension (for per-KB operations that do not know the dimension).
    async fn tables(&self) -> Result<Vec<String>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'chunk\\_vectors\\_%'",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(names.into_iter().filter(|n| n["chunk_vectors_".len()..].chars().all(|c| c.is_ascii_digit())).collect())
    }

    fn filters(query: &IndexQuery, q: &mut sqlx::QueryBuilder<sqlx::Postgres>) {
        q.push(" WHERE kb_id = ").push_bind(query.kb_id.0);
        if !query.filter.source_ids.is_empty() {
            let ids: Vec<Uuid> = query.filter.source_ids.iter().map(|s| s.0).collect();
            q.push(" AND source_id = ANY(").push_bind(ids).push(")");
        }
        if let Some(prefix) = query.filter.url_prefix.as_deref().filter(|p| !p.is_empty()) {
            let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            q.push(" AND url LIKE ").push_bind(format!("{escaped}%"));
        }
    }

    async fn dense(&self, query: &IndexQuery, limit: usize) -> Result<Vec<IndexHit>, StoreError> {
        let dim = query.vector.len();
        if dim == 0 || !self.tables().await?.contains(&table(dim)) {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT chunk_id, payload, (1 - (embedding <=> ");
        q.push_bind(vector_literal(&query.vector)).push(format!("::vector({dim})))::float8 AS score FROM {}", table(dim)));
        Self::filters(query, &mut q);
        if let Some(t) = query.score_threshold {
            q.push(" AND 1 - (embedding <=> ").push_bind(vector_literal(&query.vector));
            q.push(format!("::vector({dim})) >= ")).push_bind(f64::from(t));
        }
        q.push(" ORDER BY score DESC, chunk_id LIMIT ").push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows: Vec<HitRow> = q.build_query_as().fetch_all(&self.pool).await.map_err(db_err)?;
        Ok(rows.into_iter().map(hit).collect())
    }

    async fn keywords(&self, query: &IndexQuery, limit: usize) -> Result<Vec<IndexHit>, StoreError> {
        let mut hits = Vec::new();
        for t in self.tables().await? {
            // Any of the query's words (OR), ranked by cover density.
            let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "WITH query AS (SELECT to_tsquery('english', array_to_string(tsvector_to_array(to_tsvector('english', ",
            );
            q.push_bind(query.text.clone());
            q.push(format!(
                ")), ' | ')) AS q) SELECT chunk_id, payload, ts_rank_cd(keywords, query.q)::float8 AS score FROM {t}, query"
            ));
            Self::filters(query, &mut q);
            q.push(" AND keywords @@ query.q ORDER BY score DESC, chunk_id LIMIT ").push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
            let rows: Vec<HitRow> = q.build_query_as().fetch_all(&self.pool).await.map_err(db_err)?;
            hits.extend(rows.into_iter().map(hit));
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        Ok(hits)
    }
}

fn hit(r: HitRow) -> IndexHit {
    #[allow(clippy::cast_possible_truncation)]
    IndexHit { id: ChunkId(r.chunk_id), score: r.score as f32, payload: r.payload.0 }
}

#[async_trait]
impl VectorIndex for PgVectorIndex {
    async fn upsert(&self, kb: KbId, dimension: usize, points: Vec<IndexPoint>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        self.ensure(dimension).await?;
        for batch in points.chunks(100) {
            let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                "INSERT INTO {} (chunk_id, kb_id, source_id, url, payload, embedding, keywords) ",
                table(dimension)
            ));
            let mut bad = None;
            q.push_values(batch, |mut row, p| {
                if p.vector.len() != dimension {
                    bad = Some(p.vector.len());
                }
                row.push_bind(p.id.0)
                    .push_bind(kb.0)
                    .push_bind(p.payload.source_id.0)
                    .push_bind(p.payload.url.clone())
                    .push_bind(Json(p.payload.clone()))
                    .push_bind(vector_literal(&p.vector))
                    .push_unseparated(format!("::vector({dimension})"))
                    .push("to_tsvector('english', ")
                    .push_bind_unseparated(p.keyword_text.clone())
                    .push_unseparated(")");
            });
            if let Some(n) = bad {
                return Err(StoreError::Corrupt(format!("vector of {n} dimensions for an index of {dimension}")));
            }
            q.push(
                " ON CONFLICT (chunk_id) DO UPDATE SET payload = EXCLUDED.payload, embedding = EXCLUDED.embedding, \
                 keywords = EXCLUDED.keywords, url = EXCLUDED.url, source_id = EXCLUDED.source_id",
            );
            q.build().execute(&self.pool).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn search(&self, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError> {
        let top_k = query.top_k.max(1);
        match query.mode {
            SearchMode::Dense => self.dense(query, top_k).await,
            SearchMode::Sparse => self.keywords(query, top_k).await,
            SearchMode::Hybrid => hybrid_search(self, query).await,
        }
    }

    async fn count(&self, kb: KbId) -> Result<u64, StoreError> {
        let mut total = 0;
        for t in self.tables().await? {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t} WHERE kb_id = $1")))
                .bind(kb.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    async fn delete_points(&self, kb: KbId, ids: &[ChunkId]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        for t in self.tables().await? {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {t} WHERE kb_id = $1 AND chunk_id = ANY($2)")))
                .bind(kb.0)
                .bind(&ids)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn delete_kb(&self, kb: KbId) -> Result<(), StoreError> {
        for t in self.tables().await? {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {t} WHERE kb_id = $1")))
                .bind(kb.0)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn finish_kb(&self, _kb: KbId) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
