use async_trait::async_trait;

use crate::domain::{
    Chunk, ChunkId, KbId, KbStats, KbStatus, KnowledgeBase, NewPage, Page, PageId, PageStatus, PageUpdate,
    PipelineId, Source, SourceId,
};
use crate::error::StoreError;

/// What [`Catalog::admit_pages`] did with the candidates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// Pages inserted by this call (each took one unit of the source's page budget).
    pub admitted: Vec<NewPage>,
    /// Known pages whose depth this call lowered (a shorter path was found).
    pub deepened: Vec<NewPage>,
    /// Candidates refused because the page budget is spent.
    pub over_budget: usize,
}

/// A chunk with its indexing state.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChunk {
    pub chunk: Chunk,
    pub embedded: bool,
}

/// The system of record: knowledge bases, sources, pages and chunks. State moves forward by
/// conditional updates so that, under concurrent workers, exactly one wins a transition.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Creates the knowledge base, its sources and its initial pages in one transaction
    /// (each initial page takes one unit of its source's page budget).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id exists; otherwise the store failed.
    async fn create_kb(&self, kb: &KnowledgeBase, sources: &[Source], pages: &[NewPage]) -> Result<(), StoreError>;

    /// # Errors
    /// The store failed.
    async fn get_kb(&self, id: KbId) -> Result<Option<KnowledgeBase>, StoreError>;

    /// # Errors
    /// The store failed.
    async fn get_kb_by_pipeline(&self, id: PipelineId) -> Result<Option<KnowledgeBase>, StoreError>;

    /// Knowledge bases, newest first; only those of `workspaces` when given.
    ///
    /// # Errors
    /// The store failed.
    async fn list_kbs(&self, workspaces: Option<&[String]>) -> Result<Vec<KnowledgeBase>, StoreError>;

    /// Removes the knowledge base and every source, page and chunk of it; `false` when it
    /// did not exist.
    ///
    /// # Errors
    /// The store failed.
    async fn delete_kb(&self, id: KbId) -> Result<bool, StoreError>;

    /// Moves the KB from `processing` to `status`. MUST return `false` (and change nothing)
    /// when the KB is not `processing` any more, so exactly one caller wins.
    ///
    /// # Errors
    /// The store failed.
    async fn finish_kb(&self, id: KbId, status: KbStatus) -> Result<bool, StoreError>;

    /// # Errors
    /// The store failed.
    async fn list_sources(&self, kb: KbId) -> Result<Vec<Source>, StoreError>;

    /// Admits pages discovered for `source` into the crawl frontier. A page already known
    /// (by its id: under this URL or its other trailing-slash spelling) is not admitted
    /// again (its depth is lowered when the candidate's is smaller, and it is reported in
    /// `deepened` under its stored URL); a new page is admitted only while fewer than
    /// `max_pages` pages of the source were admitted. MUST hold both rules exactly under
    /// concurrent callers.
    ///
    /// # Errors
    /// The store failed; nothing was admitted.
    async fn admit_pages(
        &self,
        kb: KbId,
        source: SourceId,
        max_pages: u32,
        pages: &[NewPage],
    ) -> Result<Admission, StoreError>;

    /// # Errors
    /// The store failed.
    async fn get_page(&self, kb: KbId, id: PageId) -> Result<Option<Page>, StoreError>;

    /// The page of `url`: stored under this URL, else under its other trailing-slash
    /// spelling (the same page id).
    ///
    /// # Errors
    /// The store failed.
    async fn get_page_by_url(&self, kb: KbId, url: &str) -> Result<Option<Page>, StoreError>;

    /// Every page of the KB, ordered by depth then URL.
    ///
    /// # Errors
    /// The store failed.
    async fn list_pages(&self, kb: KbId) -> Result<Vec<Page>, StoreError>;

    /// Of these pages, the ones still `queued`.
    ///
    /// # Errors
    /// The store failed.
    async fn queued_among(&self, kb: KbId, ids: &[PageId]) -> Result<Vec<PageId>, StoreError>;

    /// Moves a page to `to` when its status is one of `from`, writing `update` with it.
    /// MUST return `false` (and change nothing) otherwise.
    ///
    /// # Errors
    /// The store failed.
    async fn transition_page(
        &self,
        kb: KbId,
        id: PageId,
        from: &[PageStatus],
        to: PageStatus,
        update: &PageUpdate,
    ) -> Result<bool, StoreError>;

    /// A final page (indexed, or skipped) of the KB whose content hash is `hash`, other than
    /// `except`.
    ///
    /// # Errors
    /// The store failed.
    async fn find_page_by_hash(&self, kb: KbId, hash: &str, except: PageId) -> Result<Option<Page>, StoreError>;

    /// Makes `chunks` the chunks of `page`: inserts the missing ones (ids are deterministic)
    /// and removes any other chunk of the page. Running it twice changes nothing.
    ///
    /// Returns the ids of the chunks it removed.
    ///
    /// # Errors
    /// The store failed.
    async fn put_chunks(&self, kb: KbId, page: PageId, chunks: &[Chunk]) -> Result<Vec<ChunkId>, StoreError>;

    /// The chunks with these ids (missing ids are left out), in index order per page.
    ///
    /// # Errors
    /// The store failed.
    async fn get_chunks(&self, kb: KbId, ids: &[ChunkId]) -> Result<Vec<StoredChunk>, StoreError>;

    /// Every chunk of a page, in order.
    ///
    /// # Errors
    /// The store failed.
    async fn page_chunks(&self, kb: KbId, page: PageId) -> Result<Vec<StoredChunk>, StoreError>;

    /// Marks chunks as embedded and indexed; returns how many changed.
    ///
    /// # Errors
    /// The store failed.
    async fn mark_embedded(&self, kb: KbId, ids: &[ChunkId]) -> Result<u64, StoreError>;

    /// Moves each of these pages from `chunked` to `indexed` when every chunk of it is
    /// embedded; returns how many moved.
    ///
    /// # Errors
    /// The store failed.
    async fn complete_embedded_pages(&self, kb: KbId, pages: &[PageId]) -> Result<u64, StoreError>;

    /// Page and chunk counts.
    ///
    /// # Errors
    /// The store failed.
    async fn stats(&self, kb: KbId) -> Result<KbStats, StoreError>;

    /// Failed pages with their reasons (at most `limit`).
    ///
    /// # Errors
    /// The store failed.
    async fn failed_pages(&self, kb: KbId, limit: u32) -> Result<Vec<Page>, StoreError>;
}
