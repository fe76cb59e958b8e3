//! Typed identifiers. Page and chunk ids are derived deterministically (UUID v5) so that a
//! stage run twice writes the same rows and vector points instead of new ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace for every derived id of this product.
const NAMESPACE: Uuid = Uuid::from_u128(0x6b62_2d62_7569_6c64_6572_2d69_6473_0001);

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            #[must_use]
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A knowledge base.
    KbId
);
uuid_id!(
    /// One source of a knowledge base (a web site, a file, a pasted text).
    SourceId
);
uuid_id!(
    /// One page (document) of a knowledge base; derived from the KB and the canonical URL.
    PageId
);
uuid_id!(
    /// One chunk; derived from its page, its index and its content. Also the vector point id.
    ChunkId
);
uuid_id!(
    /// One run of the background pipeline.
    PipelineId
);
uuid_id!(
    /// A draft (not yet finalized knowledge base).
    DraftId
);

impl PageId {
    /// The page id of `url` (already canonical) in `kb`: the id of its [`page_key`], so the
    /// two trailing-slash spellings of a URL are one page.
    #[must_use]
    pub fn derive(kb: KbId, url: &str) -> Self {
        let key = page_key(url);
        let mut name = Vec::with_capacity(16 + key.len());
        name.extend_from_slice(kb.0.as_bytes());
        name.extend_from_slice(key.as_bytes());
        Self(Uuid::new_v5(&NAMESPACE, &name))
    }
}

/// The spelling of a canonical URL that identifies its page: without the trailing slash of
/// its path (`/a/` and `/a` are one page; servers answer both with the same page or
/// redirect one to the other), except for the root path and URLs with a query.
/// `/a/index.html` keeps its own key: what an index file is depends on the server (it may be
/// `index.php`, or a different page altogether), so only identical content merges it.
#[must_use]
pub fn page_key(url: &str) -> &str {
    // With a query (or a fragment), the URL stays as it is: the query names that exact path.
    if url.contains(['?', '#']) {
        return url;
    }
    let path_start = url.find("://").map_or(0, |i| i + 3);
    let Some(root) = url[path_start..].find('/').map(|i| i + path_start) else { return url };
    let trimmed = url.trim_end_matches('/');
    if trimmed.len() <= root {
        &url[..=root]
    } else {
        trimmed
    }
}

impl ChunkId {
    /// The id of chunk number `index` of `page` with this `content`.
    #[must_use]
    pub fn derive(page: PageId, index: u32, content: &str) -> Self {
        let mut name = Vec::with_capacity(16 + 4 + 32);
        name.extend_from_slice(page.0.as_bytes());
        name.extend_from_slice(&index.to_le_bytes());
        name.extend_from_slice(&Sha256::digest(content.as_bytes()));
        Self(Uuid::new_v5(&NAMESPACE, &name))
    }
}

/// Hex SHA-256 of a text, used to recognise unchanged or duplicate content.
#[must_use]
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let kb = KbId(Uuid::nil());
        let a = PageId::derive(kb, "https://example.com/a");
        assert_eq!(a, PageId::derive(kb, "https://example.com/a"));
        assert_ne!(a, PageId::derive(kb, "https://example.com/b"));
        assert_ne!(a, PageId::derive(KbId::random(), "https://example.com/a"));
        assert_eq!(a, PageId::derive(kb, "https://example.com/a/"), "trailing-slash spellings are one page");
        assert_ne!(a, PageId::derive(kb, "https://example.com/a/index.html"));
        let c = ChunkId::derive(a, 0, "hello");
        assert_eq!(c, ChunkId::derive(a, 0, "hello"));
        assert_ne!(c, ChunkId::derive(a, 1, "hello"));
        assert_ne!(c, ChunkId::derive(a, 0, "hello!"));
    }

    #[test]
    fn page_keys_drop_the_trailing_slash_of_non_root_paths() {
        assert_eq!(page_key("https://e.com/a/"), "https://e.com/a");
        assert_eq!(page_key("https://e.com/a//"), "https://e.com/a");
        assert_eq!(page_key("https://e.com/a/b/"), "https://e.com/a/b");
        assert_eq!(page_key("https://e.com/a"), "https://e.com/a");
        assert_eq!(page_key("https://e.com/"), "https://e.com/");
        assert_eq!(page_key("https://e.com//"), "https://e.com/");
        assert_eq!(page_key("http://127.0.0.1:8080/docs/"), "http://127.0.0.1:8080/docs");
        // With a query, the slash stays (the query belongs to that exact path).
        assert_eq!(page_key("https://e.com/a/?x=1"), "https://e.com/a/?x=1");
    }

    #[test]
    fn ids_round_trip_through_strings() {
        let id = KbId::random();
        assert_eq!(id.to_string().parse::<KbId>().unwrap(), id);
        assert!("not-a-uuid".parse::<KbId>().is_err());
    }
}
