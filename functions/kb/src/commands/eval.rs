//! `kb eval`: search every question of a question set and print recall@1/5/10 and MRR@10.

use std::process::ExitCode;

use kb_shared::pipeline::eval::{first_hit, parse_questions, Metrics};
use kb_shared::pipeline::search::{search, SearchRequest, MAX_TOP_K};
use kb_shared::wiring::{embedded_catalog, embedded_context, Roles};
use serde_json::json;

use super::inspect::{find_kb, search_error};
use super::{parse_mode, print_json, settings, usage};
use crate::cli::EvalArgs;

pub async fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    if args.top_k == 0 || args.top_k > MAX_TOP_K {
        return Err(usage(format!("--top-k: must be between 1 and {MAX_TOP_K}, got {}", args.top_k)));
    }
    let text = std::fs::read_to_string(&args.qa).map_err(|e| usage(format!("--qa: cannot read {}: {e}", args.qa.display())))?;
    let items = parse_questions(&text).map_err(|e| usage(format!("--qa: {}: {e}", args.qa.display())))?;
    let settings = settings(&args.kb.data)?;
    let catalog = embedded_catalog(&settings).await?;
    let kb = find_kb(catalog.as_ref(), &args.kb.kb).await?;
    drop(catalog);
    let ctx = embedded_context(settings, Roles { chunker: false, embedder: true }).await?;
    let mode = args.mode.as_deref().map(parse_mode).unwrap_or(kb.config.vector_store.default_search_mode);
    let group = args.group_by_page.unwrap_or(kb.config.vector_store.group_by_page);

    let mut ranks = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(items.len());
    for item in &items {
        let request = SearchRequest {
            query: item.question.clone(),
            top_k: args.top_k,
            score_threshold: None,
            mode: Some(mode),
            filter: Default::default(),
            group_by_page: Some(group),
        };
        let results = search(&ctx, &kb, &request).await.map_err(search_error)?;
        let rank = first_hit(results.iter().map(|r| r.url.as_str()), item);
        ranks.push(rank);
        rows.push(json!({
            "question": item.question,
            "rank": rank,
            "top": results.first().map(|r| r.url.as_str()),
            "results": results
                .iter()
                .map(|r| json!({"chunk_id": r.chunk_id, "url": r.url, "score": r.score}))
                .collect::<Vec<_>>(),
        }));
    }
    let m = Metrics::from_ranks(&ranks);
    let mode = serde_json::to_value(mode)?;
    let config = &kb.config.chunking;
    if args.kb.data.json {
        print_json(&json!({
            "kb_id": kb.id,
            "mode": mode,
            "top_k": args.top_k,
            "group_by_page": group,
            "chunking": config,
            "contextual_headers": kb.config.embedding.contextual_headers,
            "neighbor_weight": kb.config.embedding.neighbor_weight,
            "metrics": m,
            "questions": rows,
        }));
    } else {
        println!(
            "{} questions, mode {}, top {}{} ({} {} {}/{}{}, neighbour weight {})",
            m.questions,
            mode.as_str().unwrap_or_default(),
            args.top_k,
            if group { ", grouped by page" } else { "" },
            config.strategy.as_str(),
            serde_json::to_value(config.size_unit)?.as_str().unwrap_or_default(),
            config.chunk_size,
            config.chunk_overlap,
            if kb.config.embedding.contextual_headers { ", contextual headers" } else { "" },
            kb.config.embedding.neighbor_weight,
        );
        println!("recall@1  {:.3}", m.recall_at_1);
        println!("recall@5  {:.3}", m.recall_at_5);
        println!("recall@10 {:.3}", m.recall_at_10);
        println!("MRR@10    {:.3}", m.mrr_at_10);
        let missed: Vec<_> = items.iter().zip(&ranks).filter(|(_, r)| r.is_none()).map(|(i, _)| &i.question).collect();
        if !missed.is_empty() {
            println!("not found in the top {}:", args.top_k);
            for q in missed {
                println!("  - {q}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
