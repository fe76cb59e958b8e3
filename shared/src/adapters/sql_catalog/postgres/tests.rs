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

#[tokio::test]
async fn a_pool_of_one_connection_serves_every_operation() {
    // No catalog operation holds a connection while it waits for a second one: with a pool of
    // one, such an operation would wait for itself and fail after the acquire timeout.
    let db = TestDatabase::create().await;
    let catalog = PostgresCatalog::connect_with(&db.url, 1).await.unwrap();
    contract::kb_lifecycle(&catalog).await;
    contract::admission_holds_budget_dedupe_and_depth(&catalog).await;
    contract::page_and_chunk_states(&catalog).await;
    assert_eq!(db.open_connections().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_work_stays_within_the_pool_size() {
    let db = TestDatabase::create().await;
    let catalog = Arc::new(PostgresCatalog::connect_with(&db.url, 2).await.unwrap());
    contract::concurrent_admission_is_exact(catalog.clone()).await;
    contract::concurrent_transitions_have_one_winner(catalog.clone()).await;
    let open = db.open_connections().await;
    assert!((1..=2).contains(&open), "a pool of 2 opened {open} connections");
}
