//! `kb search`, `kb pages`, `kb list`: read a knowledge base.

use std::process::ExitCode;
use std::sync::Arc;

use kb_shared::domain::{KbId, KnowledgeBase};
use kb_shared::pipeline::search::{search as run_search, SearchError, SearchRequest};
use kb_shared::pipeline::Context;
use kb_shared::ports::Catalog;
use kb_shared::wiring::{embedded_catalog, embedded_context, Roles};
use serde_json::json;

use super::{parse_mode, print_json, settings, usage};
use crate::cli::{DataArgs, KbArgs, SearchArgs};

pub(super) async fn find_kb(catalog: &dyn Catalog, raw: &str) -> anyhow::Result<KnowledgeBase> {
    let id: KbId = raw.parse().map_err(|_| usage(format!("--kb: {raw:?} is not a knowledge base id (see `kb list`)")))?;
    catalog
        .get_kb(id)
        .await?
        .ok_or_else(|| usage(format!("--kb: no knowledge base with id {id} (see `kb list`)")))
}

/// A search's bad input names the command-line flag (exit 2); other failures exit 1.
pub(super) fn search_error(e: SearchError) -> anyhow::Error {
    match e {
        SearchError::Invalid { field, message } => usage(format!("{}: {message}", field.replace('_', "-"))),
        other => anyhow::Error::new(other),
    }
}

pub async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.kb.data)?;
    let catalog = embedded_catalog(&settings).await?;
    let kb = find_kb(catalog.as_ref(), &args.kb.kb).await?;
    let ctx: Context = embedded_context(settings, Roles { chunker: false, embedder: true }).await?;
    let mode = args.mode.as_deref().map(parse_mode);
    let request = SearchRequest {
        query: args.query.join(" "),
        top_k: args.top_k,
        score_threshold: None,
        mode,
        filter: Default::default(),
        group_by_page: args.group_by_page,
    };
    let results = run_search(&ctx, &kb, &request).await.map_err(search_error)?;
    if args.kb.data.json {
        let results: Vec<_> = results
            .iter()
            .map(|r| {
                json!({
                    "url": r.url, "title": r.title, "heading_path": r.heading_path, "anchor": r.anchor,
                    "text": r.text, "score": r.score, "chunk_id": r.chunk_id,
                })
            })
            .collect();
        print_json(&json!({ "results": results }));
    } else if results.is_empty() {
        println!("No results.");
    } else {
        for (i, r) in results.iter().enumerate() {
            let anchor = r.anchor.as_deref().map(|a| format!("#{a}")).unwrap_or_default();
            println!("{}. [{:.3}] {}{}", i + 1, r.score, r.url, anchor);
            if !r.heading_path.is_empty() {
                println!("   {}", r.heading_path.join(" > "));
            }
            let snippet: String = r.text.chars().take(300).collect();
            println!("   {}\n", snippet.replace('\n', " "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn pages(args: KbArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args.data)?;
    let catalog: Arc<dyn Catalog> = embedded_catalog(&settings).await?;
    let kb = find_kb(catalog.as_ref(), &args.kb).await?;
    let pages = catalog.list_pages(kb.id).await?;
    if args.data.json {
        let pages: Vec<_> = pages
            .iter()
            .map(|p| {
                json!({
                    "url": p.url, "status": public_status(p.status), "reason": p.reason,
                    "depth": p.depth, "chunks": p.chunk_count, "title": p.title,
                })
            })
            .collect();
        print_json(&json!({ "pages": pages }));
    } else {
        for p in &pages {
            let reason = p.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            println!("{:<8} d{} {:>3} chunks  {}{}", public_status(p.status), p.depth, p.chunk_count, p.url, reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pages still in the pipeline are shown as `queued`; final ones as their outcome.
fn public_status(status: kb_shared::domain::PageStatus) -> &'static str {
    use kb_shared::domain::PageStatus as S;
    match status {
        S::Indexed => "indexed",
        S::Failed => "failed",
        S::Skipped => "skipped",
        S::Queued | S::Fetched | S::Chunked => "pending",
    }
}

pub async fn list(args: DataArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args)?;
    let catalog = embedded_catalog(&settings).await?;
    let kbs = catalog.list_kbs(None).await?;
    let mut rows = Vec::new();
    for kb in &kbs {
        let stats = catalog.stats(kb.id).await?;
        rows.push((kb, stats));
    }
    if args.json {
        let kbs: Vec<_> = rows
            .iter()
            .map(|(kb, s)| {
                json!({
                    "kb_id": kb.id, "name": kb.name, "status": kb.status.as_str(), "created_at": kb.created_at,
                    "pages_indexed": s.pages_indexed, "pages_failed": s.pages_failed, "pages_skipped": s.pages_skipped,
                    "chunks": s.chunks,
                })
            })
            .collect();
        print_json(&json!({ "knowledge_bases": kbs }));
    } else if rows.is_empty() {
        println!("No knowledge bases yet. Create one with: kb ingest <URL>");
    } else {
        for (kb, s) in rows {
            println!(
                "{}  {:<20} {:<19} {:>5} pages {:>6} chunks  {}",
                kb.id,
                kb.status.as_str(),
                kb.created_at.format("%Y-%m-%d %H:%M"),
                s.pages_indexed,
                s.chunks,
                kb.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
