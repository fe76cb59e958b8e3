use super::*;
use crate::adapters::sql_catalog::PostgresCatalog;
use crate::adapters::vector_contract;
use crate::testing::TestDatabase;

#[tokio::test]
async fn dense_keywords_hybrid_filters_and_deletes() {
    let db = TestDatabase::create().await;
    let catalog = PostgresCatalog::connect(&db.url).await.unwrap();
    let index = PgVectorIndex::new(catalog.pool().clone()).await.unwrap();
    vector_contract::dense_sparse_hybrid_filters_and_deletes(&index).await;
    vector_contract::wrong_dimension_is_refused(&index).await;
}

#[test]
fn rrf_rewards_agreement() {
    let p = vector_contract::point(KbId::random(), crate::domain::SourceId::random(), 1, "u", "t", vec![]).payload;
    let hit = |n: u128| IndexHit { id: ChunkId(Uuid::from_u128(n)), score: 0.0, payload: p.clone() };
    let fused = rrf(vec![vec![hit(1), hit(2), hit(3)], vec![hit(2), hit(3)]], 3);
    assert_eq!(fused.iter().map(|h| h.id.0.as_u128()).collect::<Vec<_>>(), vec![2, 3, 1]);
}
