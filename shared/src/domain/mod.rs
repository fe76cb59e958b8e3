//! Domain types: knowledge bases, sources, pages, chunks, their configuration and the
//! pipeline status a user sees. No adapter or SDK type appears here.

mod config;
mod document;
mod ids;
mod kb;
mod page;
mod status;

pub use config::*;
pub use document::*;
pub use ids::*;
pub use kb::*;
pub use page::*;
pub use status::*;

/// The current time at the precision every catalog stores (microseconds), so a value read back
/// equals the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
