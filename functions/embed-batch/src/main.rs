//! `embed-batch`: embeds a batch of chunks with the local model and upserts them into the vector index (SQS batches with partial batch failures).

use kb_shared::drivers::lambda;
use kb_shared::ports::QueueName;
use kb_shared::settings::Settings;
use kb_shared::wiring::{context, Roles};

// mimalloc makes the embedder ~1.5x faster; set MIMALLOC_PURGE_DELAY=-1 (the template does).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?.for_server();
    let ctx = context(settings, Roles { chunker: false, embedder: true }).await?;
    lambda::run_sqs(ctx, QueueName::Embed).await
}
