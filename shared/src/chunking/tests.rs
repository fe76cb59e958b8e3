use super::*;
use crate::domain::{render_document, DocumentMeta, HeadingAnchor, SizeUnit};
use crate::testing::token_counter;

fn page() -> PageRef<'static> {
    PageRef {
        kb_id: KbId(uuid::Uuid::nil()),
        page_id: PageId(uuid::Uuid::from_u128(7)),
        source_id: SourceId(uuid::Uuid::nil()),
        url: "https://example.com/guide",
        title: Some("Guide"),
    }
}

fn chunker() -> Chunker {
    Chunker::new(token_counter())
}

const DOC: &str = "# Guide\n\nIntro paragraph about the guide.\n\n## Install\n\nRun the installer. It takes a minute.\n\n### On Linux\n\nUse the package manager.\n\n## Configure\n\nEdit the file.\n";

#[test]
fn heading_paths_anchors_and_offsets() {
    let meta = DocumentMeta {
        url: "https://example.com/guide".into(),
        title: Some("Guide".into()),
        anchors: vec![HeadingAnchor { text: "On Linux".into(), id: "linux-install".into() }],
    };
    let stored = render_document(&meta, DOC);
    let config = ChunkingConfig { chunk_size: 30, chunk_overlap: 0, ..Default::default() };
    let chunks = chunker().chunk_document(&stored, page(), &config, true);
    assert!(chunks.len() >= 4, "{chunks:#?}");
    for c in &chunks {
        assert_eq!(&stored[c.start as usize..c.end as usize], c.text, "offsets point at the text");
        assert!(c.token_count > 0);
    }
    let linux = chunks.iter().find(|c| c.text.contains("package manager")).unwrap();
    assert_eq!(linux.heading_path, ["Guide", "Install", "On Linux"]);
    assert_eq!(linux.anchor.as_deref(), Some("linux-install"));
    let configure = chunks.iter().find(|c| c.text.contains("Edit the file")).unwrap();
    assert_eq!(configure.heading_path, ["Guide", "Configure"]);
    assert_eq!(configure.anchor.as_deref(), Some("configure"));
    assert!(configure.embedding_text(true).starts_with("Guide > Configure\n\n"));
    let ids: std::collections::HashSet<_> = chunks.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), chunks.len());
    assert_eq!(chunks.iter().map(|c| c.index).collect::<Vec<_>>(), (0..chunks.len() as u32).collect::<Vec<_>>());
    // Deterministic: same input, same ids.
    let again = chunker().chunk_document(&stored, page(), &config, true);
    assert_eq!(again, chunks);
}

#[test]
fn default_recursive_respects_size_and_overlap() {
    let para = "Sentence number one is here. ".repeat(12);
    let body: String = (0..12).map(|i| format!("## Part {i}\n\n{para}\n\n")).collect();
    let config = ChunkingConfig::default();
    let chunks = chunker().chunk_document(&body, page(), &config, false);
    assert!(chunks.len() >= 4);
    for c in &chunks {
        assert!(c.text.chars().count() <= 1000, "{}", c.text.len());
    }
    // Neighbouring chunks overlap.
    let overlapping = chunks.windows(2).filter(|w| w[1].start < w[0].end).count();
    assert!(overlapping > 0);
}

#[test]
fn no_chunk_exceeds_the_model_limit() {
    // One huge paragraph without headings, and a very long line without spaces.
    let words = "tokenization ".repeat(3000);
    let no_spaces = "x".repeat(5000);
    let body = format!("{words}\n\n{no_spaces}\n");
    let tokens = token_counter();
    let config = ChunkingConfig { chunk_size: 20_000, chunk_overlap: 0, ..Default::default() };
    let chunks = chunker().chunk_document(&body, page(), &config, true);
    assert!(chunks.len() > 10);
    for c in &chunks {
        let n = tokens.count(&c.embedding_text(true));
        assert!(n <= tokens.max_tokens(), "{n} tokens");
        assert_eq!(n as u32, c.token_count);
    }
}

#[test]
fn fixed_windows_in_tokens() {
    let body = "alpha beta gamma delta epsilon ".repeat(100);
    let config = ChunkingConfig {
        strategy: ChunkStrategy::Fixed,
        chunk_size: 50,
        chunk_overlap: 10,
        size_unit: SizeUnit::Tokens,
    };
    let chunks = chunker().chunk_document(&body, page(), &config, false);
    let tokens = token_counter();
    assert!(chunks.len() >= 12);
    for c in &chunks[..chunks.len() - 1] {
        assert_eq!(tokens.count(&c.text) - 2, 50);
    }
    assert!(chunks[1].start < chunks[0].end, "windows overlap");
}

#[test]
fn markup_only_pieces_are_dropped() {
    let body = "# A\n\nreal content here\n\n* * *\n\n---\n";
    let config = ChunkingConfig { chunk_size: 50, chunk_overlap: 0, ..Default::default() };
    let chunks = chunker().chunk_document(body, page(), &config, false);
    assert!(chunks.iter().all(|c| c.text.chars().filter(|c| c.is_alphanumeric()).count() >= 3));
}

#[test]
fn slugs() {
    assert_eq!(slugify("Hello, World!"), "hello-world");
    assert_eq!(slugify("  API v2 (beta) "), "api-v2-beta");
    assert_eq!(slugify("snake_case"), "snake_case");
}
