//! Vector index on a Qdrant server (gRPC): one collection for every knowledge base, with a
//! `kb_id` tenant index; each chunk is a point (its id is the chunk id) with a dense vector
//! (cosine) and a BM25 sparse vector (Qdrant applies the IDF), so dense and keyword search
//! run in Qdrant (hybrid search fuses the two, [`hybrid_search`]).

use std::collections::HashMap;

use async_trait::async_trait;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, KeywordIndexParamsBuilder, Modifier, PointId, PointStruct, PointsIdsList,
    Query, QueryPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant};
use tokio::sync::OnceCell;

use crate::bm25::Bm25;
use crate::domain::{ChunkId, KbId, SearchMode};
use crate::error::StoreError;
use crate::ports::{hybrid_search, IndexHit, IndexPoint, IndexQuery, SearchFilter, VectorIndex};

use super::payload::{parse_payload, point_payload};

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";

pub struct QdrantIndex {
    client: Qdrant,
    collection: String,
    /// The dimension of the collection once it is known to exist.
    ready: OnceCell<usize>,
    bm25: Bm25,
}

fn err(e: qdrant_client::QdrantError) -> StoreError {
    StoreError::Unknown(anyhow::Error::new(e).context("qdrant"))
}

fn kb_filter(kb: KbId, filter: &SearchFilter) -> Filter {
    let mut must = vec![Condition::matches("kb_id", kb.to_string())];
    if !filter.source_ids.is_empty() {
        must.push(Condition::matches("source_id", filter.source_ids.iter().map(ToString::to_string).collect::<Vec<_>>()));
    }
    if let Some(prefix) = filter.url_prefix.as_deref().filter(|p| !p.is_empty()) {
        let mut any = vec![prefix.to_owned()];
        if !prefix.ends_with('/') {
            any.push(format!("{prefix}/"));
        }
        must.push(Condition::matches("url_prefixes", any));
    }
    Filter::must(must)
}

impl QdrantIndex {
    /// Connects (the collection is created on the first write).
    ///
    /// # Errors
    /// The client cannot be built or the server does not answer.
    pub async fn connect(url: &str, api_key: Option<String>, collection: &str) -> Result<Self, StoreError> {
        let client = Qdrant::from_url(url).api_key(api_key).skip_compatibility_check().build().map_err(err)?;
        client
            .health_check()
            .await
            .map_err(|e| StoreError::Unknown(anyhow::anyhow!("cannot reach Qdrant at {url} (QDRANT_URL): {e}")))?;
        Ok(Self { client, collection: collection.to_owned(), ready: OnceCell::new(), bm25: Bm25::default() })
    }

    async fn ensure(&self, dim: usize) -> Result<usize, StoreError> {
        let have = *self
            .ready
            .get_or_try_init(|| async {
                if !self.client.collection_exists(&self.collection).await.map_err(err)? {
                    let mut vectors = VectorsConfigBuilder::default();
                    vectors.add_named_vector_params(DENSE, VectorParamsBuilder::new(dim as u64, Distance::Cosine));
                    let mut sparse = SparseVectorsConfigBuilder::default();
                    sparse.add_named_vector_params(SPARSE, SparseVectorParamsBuilder::default().modifier(Modifier::Idf));
                    let created = self
                        .client
                        .create_collection(
                            CreateCollectionBuilder::new(&self.collection).vectors_config(vectors).sparse_vectors_config(sparse),
                        )
                        .await;
                    // Another process may have created it meanwhile.
                    if let Err(e) = created {
                        if !self.client.collection_exists(&self.collection).await.map_err(err)? {
                            return Err(err(e));
                        }
                    }
                    let tenant = CreateFieldIndexCollectionBuilder::new(&self.collection, "kb_id", FieldType::Keyword)
                        .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
                        .wait(true);
                    self.client.create_field_index(tenant).await.map_err(err)?;
                    for field in ["source_id", "url_prefixes", "page_id"] {
                        let index = CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword).wait(true);
                        self.client.create_field_index(index).await.map_err(err)?;
                    }
                }
                let info = self.client.collection_info(&self.collection).await.map_err(err)?;
                let size = info
                    .result
                    .and_then(|r| r.config)
                    .and_then(|c| c.params)
                    .and_then(|p| p.vectors_config)
                    .and_then(|v| match v.config {
                        Some(qdrant_client::qdrant::vectors_config::Config::ParamsMap(m)) => m.map.get(DENSE).map(|p| p.size),
                        _ => None,
                    })
                    .ok_or_else(|| StoreError::Corrupt(format!("collection {} has no {DENSE} vector", self.collection)))?;
                Ok::<usize, StoreError>(usize::try_from(size).unwrap_or(0))
            })
            .await?;
        if have != dim {
            return Err(StoreError::Corrupt(format!(
                "collection {} holds {have}-dimension vectors, not {dim}",
                self.collection
            )));
        }
        Ok(have)
    }

    /// Deletes the whole collection, every knowledge base's points with it (tests clean up
    /// after themselves on a shared server).
    ///
    /// # Errors
    /// The server refused or did not answer.
    #[cfg(feature = "testing")]
    pub async fn delete_collection(&self) -> Result<(), StoreError> {
        self.client.delete_collection(&self.collection).await.map_err(err)?;
        Ok(())
    }
}

#[async_trait]
impl VectorIndex for QdrantIndex {
    async fn upsert(&self, kb: KbId, dimension: usize, points: Vec<IndexPoint>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        self.ensure(dimension).await?;
        let mut structs = Vec::with_capacity(points.len());
        for p in points {
            if p.vector.len() != dimension {
                return Err(StoreError::Corrupt(format!("vector of {} dimensions for an index of {dimension}", p.vector.len())));
            }
            let sparse = self.bm25.document(&p.keyword_text);
            let vectors: HashMap<String, Vector> = HashMap::from([
                (DENSE.to_owned(), Vector::new_dense(p.vector)),
                (SPARSE.to_owned(), Vector::new_sparse(sparse.indices, sparse.values)),
            ]);
            let mut payload = point_payload(&p.payload);
            payload["kb_id"] = serde_json::json!(kb.to_string());
            let payload = Payload::try_from(payload).map_err(|e| StoreError::Unknown(anyhow::Error::new(e)))?;
            structs.push(PointStruct::new(p.id.to_string(), vectors, payload));
        }
        self.client.upsert_points(UpsertPointsBuilder::new(&self.collection, structs).wait(true)).await.map_err(err)?;
        Ok(())
    }

    async fn search(&self, query: &IndexQuery) -> Result<Vec<IndexHit>, StoreError> {
        if query.mode == SearchMode::Hybrid {
            return hybrid_search(self, query).await;
        }
        if !self.client.collection_exists(&self.collection).await.map_err(err)? {
            return Ok(Vec::new());
        }
        let filter = kb_filter(query.kb_id, &query.filter);
        let top_k = query.top_k.max(1) as u64;
        let sparse = || {
            let q = self.bm25.query(&query.text);
            Query::new_nearest(VectorInput::new_sparse(q.indices, q.values))
        };
        let mut request = QueryPointsBuilder::new(&self.collection).limit(top_k).with_payload(true);
        if query.mode == SearchMode::Dense {
            request = request.query(Query::new_nearest(query.vector.clone())).using(DENSE).filter(filter);
            if let Some(t) = query.score_threshold {
                request = request.score_threshold(t);
            }
        } else {
            request = request.query(sparse()).using(SPARSE).filter(filter);
        }
        let response = self.client.query(request).await.map_err(err)?;
        let mut hits = Vec::with_capacity(response.result.len());
        for p in response.result {
            let Some(PointIdOptions::Uuid(id)) = p.id.and_then(|i| i.point_id_options) else { continue };
            let id: uuid::Uuid = id.parse().map_err(|e| StoreError::Corrupt(format!("point id {id}: {e}")))?;
            let payload = parse_payload(serde_json::Value::from(Payload::from(p.payload)))?;
            if query.filter.url_prefix.as_deref().is_some_and(|pre| !payload.url.starts_with(pre)) {
                continue;
            }
            hits.push(IndexHit { id: ChunkId(id), score: p.score, payload });
        }
        Ok(hits)
    }

    async fn count(&self, kb: KbId) -> Result<u64, StoreError> {
        if !self.client.collection_exists(&self.collection).await.map_err(err)? {
            return Ok(0);
        }
        let response = self
            .client
            .count(CountPointsBuilder::new(&self.collection).filter(kb_filter(kb, &SearchFilter::default())).exact(true))
            .await
            .map_err(err)?;
        Ok(response.result.map_or(0, |r| r.count))
    }

    async fn delete_points(&self, kb: KbId, ids: &[ChunkId]) -> Result<(), StoreError> {
        if ids.is_empty() || !self.client.collection_exists(&self.collection).await.map_err(err)? {
            return Ok(());
        }
        let _ = kb;
        let ids: Vec<PointId> = ids.iter().map(|i| PointId::from(i.to_string())).collect();
        self.client
            .delete_points(DeletePointsBuilder::new(&self.collection).points(PointsIdsList { ids }).wait(true))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_kb(&self, kb: KbId) -> Result<(), StoreError> {
        if !self.client.collection_exists(&self.collection).await.map_err(err)? {
            return Ok(());
        }
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection).points(kb_filter(kb, &SearchFilter::default())).wait(true),
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn finish_kb(&self, _kb: KbId) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
