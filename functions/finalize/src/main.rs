//! `finalize`: `POST /api/v1/kb-drafts/{id}/finalize` on API Gateway (creates the knowledge
//! base, enqueues the pipeline, answers at once).

use kb_shared::api::{self, ApiState};
use kb_shared::drivers::lambda;
use kb_shared::settings::Settings;
use kb_shared::wiring::Roles;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?.for_server();
    let state = ApiState::from_settings(settings, Roles::NONE).await?;
    lambda::run_http(api::finalize_router(state)).await
}
