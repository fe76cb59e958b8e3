use super::*;
use crate::adapters::vector_contract::{self, point, unit};
use crate::domain::SourceId;

#[tokio::test]
async fn dense_sparse_hybrid_filters_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let index = EdgeVectorIndex::open(dir.path()).unwrap();
    vector_contract::dense_sparse_hybrid_filters_and_deletes(&index).await;
    vector_contract::wrong_dimension_is_refused(&index).await;
}

#[tokio::test]
async fn survives_reopening_and_refuses_a_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    let kb = KbId::random();
    {
        let index = EdgeVectorIndex::open(dir.path()).unwrap();
        index.upsert(kb, 4, vec![point(kb, SourceId::random(), 1, "https://e.com/", "hello", unit([1.0, 0.0, 0.0, 0.0]))]).await.unwrap();
        let second = EdgeVectorIndex::open(dir.path());
        assert!(matches!(second, Err(StoreError::Conflict(m)) if m.contains("another process")));
    }
    let index = EdgeVectorIndex::open(dir.path()).unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 1);
}
