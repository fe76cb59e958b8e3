//! Queue messages: small versioned JSON carrying ids, never content (content travels
//! through the blob store). One struct per queue.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{ChunkId, KbId, PageId, SourceId};
use crate::error::StageError;
use crate::ports::QueueName;

/// The message format version this build writes and reads.
pub const VERSION: u8 = 1;

/// A message bound to one queue.
pub trait QueueMessage: Serialize + DeserializeOwned {
    const QUEUE: QueueName;

    /// # Errors
    /// A body that is not this message, or of another version, is a permanent failure.
    fn decode(body: &str) -> Result<Self, StageError> {
        #[derive(Deserialize)]
        struct Version {
            v: u8,
        }
        let version: Version = serde_json::from_str(body)
            .map_err(|e| StageError::permanent(format!("malformed {} message: {e}", Self::QUEUE.as_str())))?;
        if version.v != VERSION {
            return Err(StageError::permanent(format!(
                "unsupported {} message version {} (this build reads {VERSION})",
                Self::QUEUE.as_str(),
                version.v
            )));
        }
        serde_json::from_str(body)
            .map_err(|e| StageError::permanent(format!("malformed {} message: {e}", Self::QUEUE.as_str())))
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("queue messages serialise")
    }
}

/// Fetch one page of a web source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlMsg {
    pub v: u8,
    pub kb_id: KbId,
    pub source_id: SourceId,
    pub url: String,
    pub depth: u32,
}

impl CrawlMsg {
    #[must_use]
    pub fn new(kb_id: KbId, source_id: SourceId, url: String, depth: u32) -> Self {
        Self { v: VERSION, kb_id, source_id, url, depth }
    }
}

impl QueueMessage for CrawlMsg {
    const QUEUE: QueueName = QueueName::Crawl;
}

/// Chunk one page whose markdown is at `kb/{kb_id}/pages/{page_id}.md`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMsg {
    pub v: u8,
    pub kb_id: KbId,
    pub page_id: PageId,
}

impl ChunkMsg {
    #[must_use]
    pub fn new(kb_id: KbId, page_id: PageId) -> Self {
        Self { v: VERSION, kb_id, page_id }
    }
}

impl QueueMessage for ChunkMsg {
    const QUEUE: QueueName = QueueName::Chunk;
}

/// Embed and index a batch of chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedMsg {
    pub v: u8,
    pub kb_id: KbId,
    pub chunk_ids: Vec<ChunkId>,
}

impl EmbedMsg {
    #[must_use]
    pub fn new(kb_id: KbId, chunk_ids: Vec<ChunkId>) -> Self {
        Self { v: VERSION, kb_id, chunk_ids }
    }
}

impl QueueMessage for EmbedMsg {
    const QUEUE: QueueName = QueueName::Embed;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_refuse_other_versions() {
        let m = ChunkMsg::new(KbId::random(), PageId::random());
        assert_eq!(ChunkMsg::decode(&m.encode()).unwrap(), m);
        let body = m.encode().replace("\"v\":1", "\"v\":2");
        assert!(matches!(ChunkMsg::decode(&body), Err(StageError::Permanent(_))));
        assert!(matches!(ChunkMsg::decode("{}"), Err(StageError::Permanent(_))));
    }
}
