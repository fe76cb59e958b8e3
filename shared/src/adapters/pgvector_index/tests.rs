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
