//! `crawl-page`: fetches one page per message, stores its markdown, enqueues its links and its chunk job (SQS batches with partial batch failures).

use kb_shared::drivers::lambda;
use kb_shared::ports::QueueName;
use kb_shared::settings::Settings;
use kb_shared::wiring::{context, Roles};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?.for_server();
    let ctx = context(settings, Roles::NONE).await?;
    lambda::run_sqs(ctx, QueueName::Crawl).await
}
