//! Creating and deleting knowledge bases: the synchronous part of finalize (catalog rows,
//! first work enqueued) and the removal of everything a KB owns.

use bytes::Bytes;

use crate::crawl::urls::parse_start_url;
use crate::domain::{
    kb_blob_prefix, page_markdown_key, render_document, DocumentMeta, KbConfig, KbId, KbStatus, KnowledgeBase,
    NewPage, PageStatus, PageUpdate, PipelineId, Source, SourceId, SourceSpec, ValidationError,
};
use crate::error::StoreError;
use crate::messages::{ChunkMsg, CrawlMsg, QueueMessage};
use crate::ports::QueueName;

use super::{progress, Context};

/// A knowledge base to create.
#[derive(Clone, Debug)]
pub struct CreateKb {
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_by: String,
    pub config: KbConfig,
    pub sources: Vec<SourceInput>,
}

/// One source as given by the user.
#[derive(Clone, Debug)]
pub struct SourceInput {
    pub id: SourceId,
    pub spec: SourceSpec,
}

/// Why a knowledge base could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The page URL of a non-web source (there is no real URL to cite).
#[must_use]
pub fn source_page_url(source: SourceId, spec: &SourceSpec) -> Option<String> {
    match spec {
        SourceSpec::Web { .. } => None,
        SourceSpec::Text { .. } => Some(format!("text://{source}")),
        SourceSpec::File { filename, .. } => {
            Some(format!("upload://{source}/{}", url::form_urlencoded::byte_serialize(filename.as_bytes()).collect::<String>()))
        }
    }
}

/// Checks a KB request without writing anything.
///
/// # Errors
/// The first invalid field.
pub fn validate(req: &CreateKb) -> Result<(), ValidationError> {
    if req.name.trim().is_empty() {
        return Err(ValidationError::new("required", "name", "name must not be empty"));
    }
    if req.name.chars().count() > 200 {
        return Err(ValidationError::new("too_long", "name", "name must be at most 200 characters"));
    }
    req.config.validate()?;
    if req.sources.is_empty() {
        return Err(ValidationError::new("empty", "sources", "add at least one source"));
    }
    for s in &req.sources {
        match &s.spec {
            SourceSpec::Web { url, crawl } => {
                crawl.validate()?;
                parse_start_url(url, &crawl.strip_query_params)
                    .map_err(|e| ValidationError::new("invalid_url", "url", e.to_string()))?;
            }
            SourceSpec::Text { title, content } => {
                if title.trim().is_empty() {
                    return Err(ValidationError::new("required", "title", "title must not be empty"));
                }
                if content.trim().is_empty() {
                    return Err(ValidationError::new("required", "content", "content must not be empty"));
                }
            }
            SourceSpec::File { .. } => {}
        }
    }
    Ok(())
}

/// Creates the KB (status `processing`), its sources and first pages, and enqueues the
/// first work. Returns at once; the pipeline does the rest.
///
/// # Errors
/// Invalid input, or a store failed.
pub async fn create(ctx: &Context, req: CreateKb) -> Result<KnowledgeBase, CreateError> {
    validate(&req)?;
    let now = crate::domain::now();
    let kb = KnowledgeBase {
        id: KbId::random(),
        workspace_id: req.workspace_id,
        name: req.name.trim().to_owned(),
        description: req.description,
        status: KbStatus::Processing,
        config: req.config,
        pipeline_id: PipelineId::random(),
        created_by: req.created_by,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let mut sources = Vec::new();
    let mut pages = Vec::new();
    let mut crawls = Vec::new();
    let mut documents = Vec::new();
    let mut originals = Vec::new();
    for input in req.sources {
        let mut spec = input.spec;
        match &mut spec {
            SourceSpec::Web { url, crawl } => {
                let start = parse_start_url(url, &crawl.strip_query_params)
                    .map_err(|e| ValidationError::new("invalid_url", "url", e.to_string()))?;
                *url = start.to_string();
                pages.push(NewPage::new(kb.id, input.id, start.to_string(), 0));
                crawls.push(CrawlMsg::new(kb.id, input.id, start.to_string(), 0));
            }
            SourceSpec::Text { title, content } => {
                let page_url = source_page_url(input.id, &SourceSpec::Text { title: title.clone(), content: String::new() })
                    .expect("text sources have a page URL");
                let page = NewPage::new(kb.id, input.id, page_url.clone(), 0);
                let meta = DocumentMeta { url: page_url, title: Some(title.clone()), anchors: Vec::new() };
                documents.push((page.id, Some(title.clone()), render_document(&meta, content)));
                content.clear();
                pages.push(page);
            }
            SourceSpec::File { .. } => {
                let page_url = source_page_url(input.id, &spec).expect("file sources have a page URL");
                let SourceSpec::File { markdown_key, filename, blob_key, .. } = &mut spec else { unreachable!() };
                let page = NewPage::new(kb.id, input.id, page_url, 0);
                let missing = || {
                    ValidationError::new("missing_upload", "sources", format!("the upload {filename:?} is no longer stored"))
                };
                let body = ctx.blobs.get(markdown_key).await?.ok_or_else(missing)?;
                let original = ctx.blobs.get(blob_key).await?.ok_or_else(missing)?;
                // The KB keeps its own copy of the original (the draft's blobs go with the
                // draft), under its prefix so that deleting the KB removes it.
                let kept = format!("{}files/{}/original", kb_blob_prefix(kb.id), input.id);
                originals.push((kept.clone(), original));
                *blob_key = kept;
                *markdown_key = page_markdown_key(kb.id, page.id);
                documents.push((page.id, Some(filename.clone()), String::from_utf8_lossy(&body).into_owned()));
                pages.push(page);
            }
        }
        sources.push(Source { id: input.id, spec, created_at: now });
    }
    // Content first, rows second, messages last: a message never points at missing data.
    for (key, body) in originals {
        ctx.blobs.put(&key, body, "application/octet-stream").await?;
    }
    for (page_id, _, document) in &documents {
        ctx.blobs.put(&page_markdown_key(kb.id, *page_id), Bytes::from(document.clone()), "text/markdown; charset=utf-8").await?;
    }
    ctx.catalog.create_kb(&kb, &sources, &pages).await?;
    let mut chunk_msgs = Vec::new();
    for (page_id, title, _) in documents {
        let update = PageUpdate { title, ..Default::default() };
        ctx.catalog.transition_page(kb.id, page_id, &[PageStatus::Queued], PageStatus::Fetched, &update).await?;
        chunk_msgs.push(ChunkMsg::new(kb.id, page_id).encode());
    }
    ctx.queue.send_batch(QueueName::Chunk, chunk_msgs).await?;
    ctx.queue.send_batch(QueueName::Crawl, crawls.iter().map(QueueMessage::encode).collect()).await?;
    progress::after_work(ctx, kb.id).await?;
    Ok(kb)
}

/// Removes a KB: its catalog rows first (so workers drop its remaining messages), then its
/// vectors and blobs. `false` when it did not exist.
///
/// # Errors
/// A store failed; deleting again finishes the job.
pub async fn delete(ctx: &Context, id: KbId) -> Result<bool, StoreError> {
    let existed = ctx.catalog.delete_kb(id).await?;
    ctx.index.delete_kb(id).await?;
    ctx.blobs.delete_prefix(&kb_blob_prefix(id)).await?;
    Ok(existed)
}
