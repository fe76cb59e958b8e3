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

#[tokio::test]
async fn connections_name_their_process_unless_the_url_names_one() {
    let db = TestDatabase::create().await;
    let own_name = "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    let catalog = PostgresCatalog::connect_with(&db.url, 1).await.unwrap();
    let name: String = sqlx::query_scalar(own_name).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(name, super::application_name());
    assert!(name.starts_with("kb_shared"), "the test executable's name, got {name:?}");

    let sep = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}application_name=chosen-by-operator", db.url);
    let named = PostgresCatalog::connect_with(&url, 1).await.unwrap();
    let name: String = sqlx::query_scalar(own_name).fetch_one(named.pool()).await.unwrap();
    assert_eq!(name, "chosen-by-operator");
}

#[test]
fn the_application_name_prefers_the_lambda_function_and_fits_postgres() {
    use super::application_name_of;
    use std::path::PathBuf;
    let exe = Some(PathBuf::from("/var/task/crawl-page"));
    assert_eq!(application_name_of(None, exe.clone()), "crawl-page");
    assert_eq!(application_name_of(Some(String::new()), exe.clone()), "crawl-page");
    assert_eq!(application_name_of(Some("kb-prod-ChunkFunction-1X2Y".into()), exe), "kb-prod-ChunkFunction-1X2Y");
    assert_eq!(application_name_of(None, None), "kb");
    let long = application_name_of(Some("é".repeat(40)), None);
    assert_eq!(long, "é".repeat(31), "cut to at most 63 bytes on a character boundary");
}
