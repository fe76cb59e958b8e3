//! The pipeline: one handler per stage (crawl, chunk, embed) over the ports, the progress
//! and completion logic they share, the drivers that feed them messages, and the services
//! around a knowledge base (create, search, delete).

pub mod chunk;
mod context;
pub mod crawl;
pub mod discovery;
mod duplicates;
pub mod embed;
pub mod eval;
pub mod kb;
pub mod politeness;
pub mod progress;
pub mod search;
pub mod worker;

pub use context::Context;
