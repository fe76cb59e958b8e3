//! Runs against a Qdrant server (none ships in the package registries this project's CI can
//! reach): ignored by default, so a run without a server reports it as ignored rather than
//! passed; scripts/test.sh includes it when `QDRANT_URL` is set.

use super::*;
use crate::adapters::vector_contract;

fn server() -> String {
    std::env::var("QDRANT_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("QDRANT_URL must name a Qdrant server's gRPC URL (e.g. http://127.0.0.1:6334) for this test")
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    // Nothing listens on port 1: connecting fails at once, with the URL and the variable named.
    let Err(e) = QdrantIndex::connect("http://127.0.0.1:1", None, "kbtest_unreachable").await else {
        panic!("connected to nothing")
    };
    let message = e.to_string();
    assert!(message.starts_with("cannot reach Qdrant at http://127.0.0.1:1 (QDRANT_URL)"), "{message}");
}

#[tokio::test]
#[ignore = "needs a Qdrant server: set QDRANT_URL and pass --include-ignored (scripts/test.sh does)"]
async fn dense_sparse_hybrid_filters_and_deletes() {
    let url = server();
    let collection = format!("kbtest_{}", uuid::Uuid::new_v4().simple());
    let index = QdrantIndex::connect(&url, std::env::var("QDRANT_API_KEY").ok(), &collection).await.unwrap();
    vector_contract::dense_sparse_hybrid_filters_and_deletes(&index).await;
    vector_contract::wrong_dimension_is_refused(&index).await;
    index.delete_collection().await.unwrap();
    assert!(!index.client.collection_exists(&collection).await.unwrap());
}
