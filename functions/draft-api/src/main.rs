//! `draft-api`: every HTTP route but finalize, on API Gateway.

use kb_shared::api::{self, ApiState};
use kb_shared::drivers::lambda;
use kb_shared::settings::Settings;
use kb_shared::wiring::Roles;

// The embedder (query embeddings for search) is ~1.5x faster on mimalloc; set
// MIMALLOC_PURGE_DELAY=-1 in the environment (the template does).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), lambda_http::Error> {
    #[allow(unsafe_code)]
    // SAFETY: no other thread exists yet (the runtime starts below).
    unsafe {
        kb_shared::adapters::candle_embedder::fix_thread_count();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), lambda_http::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?.for_server();
    let state = ApiState::from_settings(settings, Roles::ALL).await?;
    lambda::run_http(api::draft_api_router(state)).await
}
