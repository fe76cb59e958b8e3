//! Vector index in-process on qdrant-edge (the Qdrant engine as a library): one shard per
//! knowledge base under `<data dir>/vectors/<kb_id>`, with a dense vector (cosine) and a
//! BM25 sparse vector per chunk, so dense and keyword search run here (hybrid search fuses
//! the two, [`fuse_hybrid`], in one pass over the shard).
//!
//! The files belong to one process: opening them takes an exclusive lock, and a second
//! process gets a clear error instead of corrupting the index.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json as edge_json;
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, FieldIndexOperations,
    Filter, Modifier, NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery, UpdateOperation, Vector,
    VectorInternal, Vectors, WithPayloadInterface, WithVector,
};

use crate::domain::{ChunkId, KbId, SearchMode};
use crate::error::StoreError;
use super::payload::{parse_payload, point_payload};
use crate::ports::{
    candidate_depth, fuse_hybrid, fused_hits, ChunkPayload, IndexHit, IndexPoint, IndexQuery, SearchFilter, VectorIndex,
};

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";

type Shard = Arc<RwLock<EdgeShard>>;

pub struct EdgeVectorIndex {
    root: PathBuf,
    _lock: File,
    shards: Mutex<HashMap<KbId, Shard>>,
    bm25: Arc<EdgeBm25>,
}

fn edge_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unknown(anyhow::anyhow!("vector index: {e}"))
}

/// The BM25 model used for keyword vectors (English stemming and stop words).
fn bm25() -> Result<EdgeBm25, StoreError> {
    EdgeBm25::new(EdgeBm25Config { language: Some("english".to_owned()), ..Default::default() }).map_err(edge_err)
}

/// The filter of a search, in Qdrant's filter language.
#[must_use]
pub fn qdrant_filter_json(filter: &SearchFilter) -> Option<serde_json::Value> {
    let mut must = Vec::new();
    if !filter.source_ids.is_empty() {
        let ids: Vec<String> = filter.source_ids.iter().map(ToString::to_string).collect();
        must.push(serde_json::json!({"key": "source_id", "match": {"any": ids}}));
    }
    if let Some(prefix) = filter.url_prefix.as_deref().filter(|p| !p.is_empty()) {
        let mut any = vec![prefix.to_owned()];
        if !prefix.ends_with('/') {
            any.push(format!("{prefix}/"));
        }
        must.push(serde_json::json!({"key": "url_prefixes", "match": {"any": any}}));
    }
    (!must.is_empty()).then(|| serde_json::json!({ "must": must }))
}

impl EdgeVectorIndex {
    /// Opens the index directory, taking the process lock.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another process holds the index.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(StoreError::unknown)?;
        let lock_path = root.join(".lock");
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(StoreError::unknown)?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Conflict(format!(
                "the embedded vector index at {} is in use by another process; it belongs to one process only \
                 (run one `kb` at a time on this data directory, or configure a shared index: KB_VECTOR_INDEX=qdrant or pgvector)",
                root.display()
            )));
        }
        Ok(Self { root, _lock: lock, shards: Mutex::new(HashMap::new()), bm25: Arc::new(bm25()?) })
    }

    fn shard_dir(&self, kb: KbId) -> PathBuf {
        self.root.join(kb.to_string())
    }

    /// The shard of `kb`; created (with `dimension`) when it does not exist and a dimension
    /// is given.
    fn shard(&self, kb: KbId, dimension: Option<usize>) -> Result<Option<Shard>, StoreError> {
        let mut shards = self.shards.lock().expect("shard map lock");
        if let Some(s) = shards.get(&kb) {
            return Ok(Some(s.clone()));
        }
        let dir = self.shard_dir(kb);
        let shard = if dir.join("edge_config.json").is_file() {
            EdgeShard::load(&dir, None).map_err(edge_err)?
        } else if let Some(dim) = dimension {
            std::fs::create_dir_all(&dir).map_err(StoreError::unknown)?;
            let config = EdgeConfig {
                vectors: HashMap::from([(DENSE.to_owned(), EdgeVectorParams::builder(dim, Distance::Cosine).build())]),
                sparse_vectors: HashMap::from([(
                    SPARSE.to_owned(),
                    EdgeSparseVectorParams { modifier: Some(Modifier::Idf), ..Default::default() },
                )]),
                ..Default::default()
            };
            let shard = EdgeShard::new(&dir, config).map_err(edge_err)?;
            for field in ["source_id", "url_prefixes", "page_id"] {
                shard
                    .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: field.try_into().map_err(|()| edge_err(format!("invalid payload key {field}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
                    })))
                    .map_err(edge_err)?;
            }
            shard
        } else {
            return Ok(None);
        };
        let shard = Arc::new(RwLock::new(shard));
        shards.insert(kb, shard.clone());
        Ok(Some(shard))
    }

    /// The query of a dense or keyword search of `query` (limit and payload left to the caller).
    fn request(&self, query: &IndexQuery, mode: SearchMode) -> Result<QueryRequest, StoreError> {
        let (scoring, threshold) = if mode == SearchMode::Dense {
            (nearest(VectorInternal::from(query.vector.clone()), DENSE), query.score_threshold.map(OrderedFloat))
        } else {
            (nearest(VectorInternal::from(self.bm25.embed_query(&query.text)), SPARSE), None)
        };
        Ok(QueryRequest {
            prefetches: vec![],
            query: Some(scoring),
            filter: Self::filter(&query.filter)?,
            score_threshold: threshold,
            limit: 0,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        })
    }

    /// Hybrid search in one pass over the shard: the dense and keyword rankings as ids only,
    /// fused ([`fuse_hybrid`]), then the payloads of the `top_k` kept (reading a payload costs
    /// more than ranking it: fetching all `2 * candidate_depth` made hybrid search 1.5x slower
    /// than dense).
    async fn hybrid(&self, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError> {
        let Some(shard) = self.shard(query.kb_id, None)? else { return Ok(Vec::new()) };
        let top_k = query.top_k.max(1);
        let depth = candidate_depth(top_k);
        let dense = QueryRequest { limit: depth, ..self.request(query, SearchMode::Dense)? };
        let keywords = QueryRequest { limit: depth, ..self.request(query, SearchMode::Sparse)? };
        let dense_only = query.score_threshold.is_some();
        let prefix = query.filter.url_prefix.clone();
        blocking(move || {
            let shard = shard.read().expect("shard lock");
            let ids = |request: QueryRequest| -> Result<Vec<ChunkId>, StoreError> {
                let points = shard.query(request).map_err(edge_err)?;
                Ok(points.into_iter().filter_map(|p| if let PointId::Uuid(id) = p.id { Some(ChunkId(id)) } else { None }).collect())
            };
            let fused = fuse_hybrid(&ids(dense)?, &ids(keywords)?, dense_only, top_k);
            let wanted: Vec<PointId> = fused.iter().map(|(id, _)| PointId::Uuid(id.0)).collect();
            let records = shard.retrieve(&wanted, Some(WithPayloadInterface::Bool(true)), Some(WithVector::Bool(false)));
            let mut payloads = HashMap::with_capacity(wanted.len());
            for r in records.map_err(edge_err)? {
                if let Some((id, payload)) = chunk_of(r.id, r.payload.unwrap_or_default().0, prefix.as_deref())? {
                    payloads.insert(id, payload);
                }
            }
            Ok(fused_hits(fused, payloads))
        })
        .await
    }

    fn filter(filter: &SearchFilter) -> Result<Option<Filter>, StoreError> {
        qdrant_filter_json(filter)
            .map(|v| edge_json::from_value::<Filter>(edge_json::to_value(v).map_err(edge_err)?).map_err(edge_err))
            .transpose()
    }
}

/// A stored point as a chunk: its id and payload, or `None` when its id is not a chunk id or
/// its page is not under the URL prefix of the search (checked on the payload as well as by
/// the index's filter on the stored URL prefixes, which match at path segments).
fn chunk_of(
    id: PointId,
    payload: edge_json::Map<String, edge_json::Value>,
    prefix: Option<&str>,
) -> Result<Option<(ChunkId, ChunkPayload)>, StoreError> {
    let PointId::Uuid(id) = id else { return Ok(None) };
    let payload = parse_payload(edge_json::Value::Object(payload))?;
    Ok(prefix.is_none_or(|pre| payload.url.starts_with(pre)).then_some((ChunkId(id), payload)))
}

fn nearest(vector: VectorInternal, using: &str) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query: vector, using: Some(using.to_owned()) }))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, StoreError> + Send + 'static) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Unknown(anyhow::Error::new(e)))?
}

#[async_trait]
impl VectorIndex for EdgeVectorIndex {
    async fn upsert(&self, kb: KbId, dimension: usize, points: Vec<IndexPoint>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        let shard = self.shard(kb, Some(dimension))?.expect("created with a dimension");
        let bm25 = self.bm25.clone();
        blocking(move || {
            let mut structs = Vec::with_capacity(points.len());
            for p in points {
                if p.vector.len() != dimension {
                    return Err(StoreError::Corrupt(format!(
                        "vector of {} dimensions for an index of {dimension}",
                        p.vector.len()
                    )));
                }
                let sparse = bm25.embed_document(&p.keyword_text);
                let vectors = Vectors::new_named([(DENSE, Vector::new_dense(p.vector)), (SPARSE, Vector::from(sparse))]);
                let payload = edge_json::to_value(point_payload(&p.payload)).map_err(edge_err)?;
                structs.push(PointStruct::new(PointId::Uuid(p.id.0), vectors, payload).into());
            }
            let shard = shard.write().expect("shard lock");
            shard
                .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                    PointInsertOperations::PointsList(structs),
                )))
                .map_err(edge_err)
        })
        .await
    }

    async fn search(&self, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError> {
        if query.mode == SearchMode::Hybrid {
            return self.hybrid(query).await;
        }
        let Some(shard) = self.shard(query.kb_id, None)? else { return Ok(Vec::new()) };
        let request = QueryRequest {
            limit: query.top_k.max(1),
            with_payload: WithPayloadInterface::Bool(true),
            ..self.request(query, query.mode)?
        };
        let prefix = query.filter.url_prefix.clone();
        blocking(move || {
            let points = shard.read().expect("shard lock").query(request).map_err(edge_err)?;
            let mut hits = Vec::with_capacity(points.len());
            for p in points {
                if let Some((id, payload)) = chunk_of(p.id, p.payload.unwrap_or_default().0, prefix.as_deref())? {
                    hits.push(IndexHit { id, score: p.score, payload });
                }
            }
            Ok(hits)
        })
        .await
    }

    async fn count(&self, kb: KbId) -> Result<u64, StoreError> {
        let Some(shard) = self.shard(kb, None)? else { return Ok(0) };
        blocking(move || {
            let n = shard
                .read()
                .expect("shard lock")
                .count(qdrant_edge::CountRequest { filter: None, exact: true })
                .map_err(edge_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_points(&self, kb: KbId, ids: &[ChunkId]) -> Result<(), StoreError> {
        let Some(shard) = self.shard(kb, None)? else { return Ok(()) };
        let ids: Vec<PointId> = ids.iter().map(|id| PointId::Uuid(id.0)).collect();
        blocking(move || {
            shard
                .write()
                .expect("shard lock")
                .update(UpdateOperation::PointOperation(PointOperations::DeletePoints { ids }))
                .map_err(edge_err)
        })
        .await
    }

    async fn delete_kb(&self, kb: KbId) -> Result<(), StoreError> {
        let shard = self.shards.lock().expect("shard map lock").remove(&kb);
        let dir = self.shard_dir(kb);
        blocking(move || {
            // Dropping the last handle flushes and closes the shard before its files go.
            drop(shard);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::unknown(e)),
            }
        })
        .await
    }

    async fn finish_kb(&self, kb: KbId) -> Result<(), StoreError> {
        let Some(shard) = self.shard(kb, None)? else { return Ok(()) };
        blocking(move || {
            let shard = shard.write().expect("shard lock");
            shard.optimize().map_err(edge_err)?;
            shard.flush();
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
