//! `chunk`: splits one page's markdown into chunks and enqueues embed jobs (SQS batches with partial batch failures).
//! It loads the embedding model too: the semantic strategy compares sentence embeddings.

use kb_shared::drivers::lambda;
use kb_shared::ports::QueueName;
use kb_shared::settings::Settings;
use kb_shared::wiring::{context, Roles};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?.for_server();
    let ctx = context(settings, Roles { chunker: true, embedder: true }).await?;
    lambda::run_sqs(ctx, QueueName::Chunk).await
}
