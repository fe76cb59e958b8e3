//! Shared helpers of the end-to-end tests.

#![allow(dead_code)]

use std::time::Duration;

use kb_shared::domain::{CrawlConfig, KbConfig, KbId, KbStatus, SourceId, SourceSpec};
use kb_shared::pipeline::kb::{create, CreateKb, SourceInput};
use kb_shared::pipeline::worker::{self, Concurrency};
use kb_shared::pipeline::Context;
use kb_shared::settings::Settings;
use kb_shared::wiring::{embedded_context, Roles};

/// Settings for a test: the embedded default, a fresh data directory, the real model.
pub fn settings(data_dir: &std::path::Path) -> Settings {
    let mut s = kb_shared::testing::local_settings();
    s.data_dir = data_dir.to_path_buf();
    s.model_dir = kb_shared::testing::model_dir();
    s.fetch_timeout = Duration::from_secs(5);
    s
}

pub async fn context(data_dir: &std::path::Path) -> Context {
    embedded_context(settings(data_dir), Roles::ALL).await.expect("embedded context")
}

/// The crawl options the docs fixture site expects.
pub fn docs_crawl() -> CrawlConfig {
    CrawlConfig {
        max_pages: 100,
        max_depth: kb_e2e::docs_site::MAX_DEPTH,
        include_patterns: vec!["/docs/**".into()],
        exclude_patterns: vec!["/docs/private/**".into()],
        ..Default::default()
    }
}

pub async fn create_web_kb(ctx: &Context, url: &str, crawl: CrawlConfig) -> KbId {
    create_web_kb_with(ctx, url, crawl, KbConfig::default()).await
}

/// A KB over one web source, with its own chunking/embedding/search configuration.
pub async fn create_web_kb_with(ctx: &Context, url: &str, crawl: CrawlConfig, config: KbConfig) -> KbId {
    let request = CreateKb {
        workspace_id: "ws".into(),
        name: "fixture".into(),
        description: None,
        created_by: "tester".into(),
        config,
        sources: vec![SourceInput { id: SourceId::random(), spec: SourceSpec::Web { url: url.to_owned(), crawl } }],
    };
    create(ctx, request).await.expect("create KB").id
}

/// Runs the in-process workers until the KB is final (queues drained, no sleeps in the
/// logic: the loop only waits for the workers).
pub async fn run_until_final(ctx: &Context, kb: KbId, timeout: Duration) -> KbStatus {
    run_until_all_final(ctx, &[kb], timeout).await[0]
}

/// Runs the in-process workers until every one of `kbs` is final; their final statuses.
pub async fn run_until_all_final(ctx: &Context, kbs: &[KbId], timeout: Duration) -> Vec<KbStatus> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(worker::run(ctx.clone(), Concurrency::from_settings(ctx), stop_rx));
    let deadline = tokio::time::Instant::now() + timeout;
    let statuses = loop {
        let mut statuses = Vec::new();
        for kb in kbs {
            statuses.push(ctx.catalog.get_kb(*kb).await.unwrap().unwrap().status);
        }
        if statuses.iter().all(|s| s.is_final()) {
            break statuses;
        }
        assert!(tokio::time::Instant::now() < deadline, "the KBs did not finish within {timeout:?}: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop_tx.send(true).unwrap();
    workers.await.unwrap();
    statuses
}

/// The path of a fixture URL.
pub fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// (path, status, reason) of every page of the KB, sorted by path.
pub async fn outcomes(ctx: &Context, kb: KbId) -> Vec<(String, kb_shared::domain::PageStatus, Option<String>)> {
    let mut pages: Vec<_> = ctx
        .catalog
        .list_pages(kb)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (path_of(&p.url), p.status, p.reason))
        .collect();
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    pages
}
