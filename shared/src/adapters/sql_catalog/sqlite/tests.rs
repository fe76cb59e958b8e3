use std::sync::Arc;

use super::SqliteCatalog;
use crate::adapters::sql_catalog::contract;
use crate::ports::Catalog;

async fn catalog(dir: &tempfile::TempDir) -> SqliteCatalog {
    SqliteCatalog::open(dir.path().join("catalog.db").to_str().unwrap()).await.unwrap()
}

#[tokio::test]
async fn kb_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    contract::kb_lifecycle(&catalog(&dir).await).await;
}

#[tokio::test]
async fn admission() {
    let dir = tempfile::tempdir().unwrap();
    contract::admission_holds_budget_dedupe_and_depth(&catalog(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admission() {
    let dir = tempfile::tempdir().unwrap();
    let c: Arc<dyn Catalog> = Arc::new(catalog(&dir).await);
    contract::concurrent_admission_is_exact(c).await;
}

#[tokio::test]
async fn page_and_chunk_states() {
    let dir = tempfile::tempdir().unwrap();
    contract::page_and_chunk_states(&catalog(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let c: Arc<dyn Catalog> = Arc::new(catalog(&dir).await);
    contract::concurrent_transitions_have_one_winner(c).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, source) = contract::sample_kb("ws");
    catalog(&dir).await.create_kb(&kb, &[source], &[]).await.unwrap();
    let again = catalog(&dir).await;
    assert_eq!(again.get_kb(kb.id).await.unwrap().unwrap().name, "Docs");
}
