//! Duplicate content across the pages of a knowledge base, decided through the key-value
//! store so that concurrent workers agree: the same main content (a content hash claimed
//! with set-if-absent) and nearly the same (a simhash within
//! [`NEAR_DISTANCE`](crate::crawl::simhash::NEAR_DISTANCE) bits and a min-hash resemblance
//! of at least [`NEAR_RESEMBLANCE`](crate::crawl::simhash::NEAR_RESEMBLANCE), found through
//! banded append-only lists).

use std::time::Duration;

use crate::crawl::simhash::{self, Fingerprint, BANDS};
use crate::domain::{Page, PageId, PageStatus};
use crate::error::StageError;

use super::Context;

/// How long a content hash or a fingerprint stays claimed by its first page.
const CLAIM_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The page that already holds exactly this content (`hash`), if another one does.
pub(crate) async fn exact_duplicate_of(ctx: &Context, page: &Page, hash: &str) -> Result<Option<Page>, StageError> {
    let key = format!("content:{}:{hash}", page.kb_id);
    let mine = page.id.to_string();
    if !ctx.kv.set_if_absent(&key, mine.clone().into_bytes(), Some(CLAIM_TTL)).await? {
        let owner = ctx.kv.get(&key).await?.map(|v| String::from_utf8_lossy(&v).into_owned());
        if let Some(owner) = owner.filter(|o| *o != mine) {
            if let Ok(id) = owner.parse() {
                if let Some(original) = ctx.catalog.get_page(page.kb_id, id).await? {
                    if !matches!(original.status, PageStatus::Failed | PageStatus::Skipped) {
                        return Ok(Some(original));
                    }
                }
            }
        }
        return Ok(None);
    }
    Ok(ctx.catalog.find_page_by_hash(page.kb_id, hash, page.id).await?)
}

/// One entry of a band list: a page id and its fingerprint.
const ENTRY: usize = 16 + Fingerprint::BYTES;

fn entries(list: &[u8]) -> impl Iterator<Item = (PageId, Fingerprint)> + '_ {
    list.chunks_exact(ENTRY).map(|e| {
        let id = PageId(uuid::Uuid::from_slice(&e[..16]).expect("16 bytes"));
        (id, Fingerprint::from_bytes(&e[16..]))
    })
}

/// The earlier page whose main text is nearly `text` (but not equal: equal content is
/// [`exact_duplicate_of`]'s), if there is one; as a reason to show (`duplicate of <url>`).
///
/// Every page appends (id, fingerprint) to one list per band of its fingerprint, and sees
/// what that append returns: the entries that came before it. Two near duplicates share a
/// band; in the first band they share, one of them appended first, and only the later one
/// finds the other before itself there. So of two concurrent near duplicates exactly one
/// is kept. A redelivered page counts from its first entry, so it decides the same way.
pub(crate) async fn near_duplicate_of(ctx: &Context, page: &Page, text: &str) -> Result<Option<String>, StageError> {
    let Some(mine) = simhash::fingerprint(text) else { return Ok(None) };
    let mut entry = Vec::with_capacity(ENTRY);
    entry.extend_from_slice(page.id.0.as_bytes());
    entry.extend_from_slice(&mine.to_bytes());
    let appends = (0..BANDS).map(|i| {
        let key = format!("simhash:{}:{i}:{:04x}", page.kb_id, simhash::band(mine.simhash, i));
        let entry = &entry;
        async move { ctx.kv.append(&key, entry, Some(CLAIM_TTL)).await }
    });
    let lists = futures::future::try_join_all(appends).await?;
    let mut best: Option<(u32, PageId)> = None;
    for (i, list) in lists.iter().enumerate() {
        for (id, other) in entries(list).take_while(|(id, _)| *id != page.id) {
            let d = simhash::distance(mine.simhash, other.simhash);
            let first = simhash::first_common_band(mine.simhash, other.simhash) == Some(i);
            if first && mine.is_near(&other) && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, id));
            }
        }
    }
    let Some((_, original)) = best else { return Ok(None) };
    let Some(original) = ctx.catalog.get_page(page.kb_id, original).await? else { return Ok(None) };
    match original.status {
        PageStatus::Failed => Ok(None),
        // Near a page that is itself a duplicate: name the page that was kept.
        PageStatus::Skipped => Ok(original.reason.filter(|r| r.starts_with("duplicate of "))),
        _ => Ok(Some(format!("duplicate of {}", original.url))),
    }
}
