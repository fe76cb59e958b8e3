use std::sync::Arc;

use super::PostgresCatalog;
use crate::adapters::sql_catalog::contract;
use crate::ports::Catalog;
use crate::testing::TestDatabase;

#[tokio::test]
async fn migrations_from_empty_and_again() {
    let db = TestDatabase::create().await;
    let catalog = PostgresCatalog::connect(&db.url).await.unwrap();
    PostgresCatalog::migrate(catalog.pool()).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(catalog.pool())
    .await
    .unwrap();
    assert_eq!(tables, ["chunks", "documents", "knowledge_bases", "sources"]);
}

#[tokio::test]
async fn kb_lifecycle() {
    let db = TestDatabase::create().await;
    contract::kb_lifecycle(&PostgresCatalog::connect(&db.url).await.unwrap()).await;
}

#[tokio::test]
async fn admission() {
    let db = TestDatabase::create().await;
    contract::admission_holds_budget_dedupe_and_depth(&PostgresCatalog::connect(&db.url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admission() {
    let db = TestDatabase::create().await;
    let c: Arc<dyn Catalog> = Arc::new(PostgresCatalog::connect(&db.url).await.unwrap());
    contract::concurrent_admission_is_exact(c).await;
}

#[tokio::test]
async fn page_and_chunk_states() {
    let db = TestDatabase::create().await;
    contract::page_and_chunk_states(&PostgresCatalog::connect(&db.url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions() {
    let db = TestDatabase::create().await;
    let c: Arc<dyn Catalog> = Arc::new(PostgresCatalog::connect(&db.url).await.unwrap());
    contract::concurrent_transitions_have_one_winner(c).await;
}
