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
    let chunks = chunker().chunk_document(&stored, page(), &config, true, &[]);
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
    let again = chunker().chunk_document(&stored, page(), &config, true, &[]);
    assert_eq!(again, chunks);
}

#[test]
fn default_recursive_respects_size_and_overlap() {
    let para = "Sentence number one is here. ".repeat(12);
    let body: String = (0..12).map(|i| format!("## Part {i}\n\n{para}\n\n")).collect();
    let config = ChunkingConfig::default();
    let chunks = chunker().chunk_document(&body, page(), &config, false, &[]);
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
    let chunks = chunker().chunk_document(&body, page(), &config, true, &[]);
    assert!(chunks.len() > 10);
    for c in &chunks {
        let n = tokens.count(&c.embedding_text(true));
        assert!(n <= tokens.max_tokens(), "{n} tokens");
        assert_eq!(n as u32, c.token_count);
    }
}

/// The URL of a link is not embedded, so it neither counts against the model limit nor makes
/// the same page split differently under another host or port.
#[test]
fn link_urls_do_not_count_against_the_model_limit() {
    let tokens = token_counter();
    let para = |host: &str| {
        (0..24)
            .map(|i| format!("See [item {i}](https://{host}/reference/section-{i}/page-{i}.html?from=index#part-{i})."))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (short, long) = (para("a.io"), para("docs.example-documentation-site.com:58857"));
    assert!(tokens.count(&long) > tokens.max_tokens(), "the raw markdown is over the limit");
    assert!(tokens.count(&plain_links(&long)) < tokens.max_tokens() / 2, "the text the model reads is well within it");
    let config = ChunkingConfig { chunk_size: 20_000, chunk_overlap: 0, ..Default::default() };
    for strategy in [ChunkStrategy::Recursive, ChunkStrategy::ByHeading] {
        let config = ChunkingConfig { strategy, ..config.clone() };
        let one = chunker().chunk_document(&long, page(), &config, true, &[]);
        assert_eq!(one.len(), 1, "{strategy:?}: {one:#?}");
        assert_eq!(one[0].text, long);
        assert!(one[0].token_count as usize <= tokens.max_tokens());
        let other = chunker().chunk_document(&short, page(), &config, true, &[]);
        assert_eq!(other.len(), 1, "{strategy:?}: same cuts under another host");
    }
    // Sizes in tokens count what the model reads too.
    let config = ChunkingConfig { chunk_size: 100, chunk_overlap: 0, size_unit: SizeUnit::Tokens, ..Default::default() };
    let cuts = |text: &str| chunker().chunk_document(text, page(), &config, false, &[]).len();
    assert_eq!(cuts(&long), cuts(&short));
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
    let chunks = chunker().chunk_document(&body, page(), &config, false, &[]);
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
    let chunks = chunker().chunk_document(body, page(), &config, false, &[]);
    assert!(chunks.iter().all(|c| c.text.chars().filter(|c| c.is_alphanumeric()).count() >= 3));
}

#[test]
fn slugs() {
    assert_eq!(slugify("Hello, World!"), "hello-world");
    assert_eq!(slugify("  API v2 (beta) "), "api-v2-beta");
    assert_eq!(slugify("snake_case"), "snake_case");
}

/// Markdown that trips naive splitters: nested lists, a long code block with blank lines, a
/// table, a heading without text, a very long line, CJK text without spaces.
fn tricky() -> String {
    let code: String = (0..12).map(|i| format!("    let value_{i} = compute({i});\n\n")).collect();
    let rows: String = (0..8).map(|i| format!("| row {i} | value {i} |\n")).collect();
    let long_line = "word ".repeat(400);
    let cjk = "東京は日本の首都であり、人口が最も多い都市です。".repeat(40);
    format!(
        "# Manual\n\nIntro text that says what the manual covers in a few words.\n\n\
         ## Lists\n\n- level one item\n  - level two item with detail\n    - level three item\n- another top item\n\n\
         ## Code\n\nThe example below runs the computation.\n\n```rust\nfn main() {{\n{code}}}\n```\n\n\
         ## Table\n\n| name | value |\n|------|-------|\n{rows}\n\
         ## \n\nText under a heading without text.\n\n\
         ## Long line\n\n{long_line}\n\n\
         ## 日本語\n\n{cjk}\n"
    )
}

fn config(strategy: ChunkStrategy, size: u32, overlap: u32) -> ChunkingConfig {
    ChunkingConfig { strategy, chunk_size: size, chunk_overlap: overlap, size_unit: SizeUnit::Characters }
}

/// Vectors for the semantic strategy: one per unit, pointing at one of two topics.
fn topic_vectors(c: &Chunker, doc: &str, config: &ChunkingConfig, second_topic: &str) -> Vec<Vec<f32>> {
    c.similarity_units(doc, config)
        .iter()
        .map(|u| if u.contains(second_topic) { vec![0.0, 1.0] } else { vec![1.0, 0.0] })
        .collect()
}

fn check_common(doc: &str, chunks: &[Chunk], limit_chars: usize, strategy: ChunkStrategy) {
    assert!(!chunks.is_empty(), "{strategy:?}");
    let tokens = token_counter();
    for c in chunks {
        assert_eq!(&doc[c.start as usize..c.end as usize], c.text, "{strategy:?}: offsets point at the text");
        assert!(c.text.chars().count() <= limit_chars, "{strategy:?}: chunk of {} chars", c.text.chars().count());
        assert!(tokens.count(&c.embedding_text(true)) <= tokens.max_tokens(), "{strategy:?}: over the model limit");
        assert!(!c.heading_path.iter().any(String::is_empty), "{strategy:?}: empty heading in the path");
    }
    // The long line and the CJK text are cut, on character boundaries (slicing above would
    // have panicked otherwise), and all of the CJK text is kept.
    let cjk_chars: usize = chunks.iter().filter(|c| c.heading_path.last().map(String::as_str) == Some("日本語")).map(|c| c.text.chars().count()).sum();
    assert!(cjk_chars >= 40 * 24, "{strategy:?}: CJK text lost ({cjk_chars} chars)");
}

#[test]
fn recursive_keeps_code_blocks_and_tables_whole() {
    let doc = tricky();
    let cfg = config(ChunkStrategy::Recursive, 600, 100);
    let chunks = chunker().chunk_document(&doc, page(), &cfg, true, &[]);
    check_common(&doc, &chunks, 600, ChunkStrategy::Recursive);
    let code = &doc[doc.find("```rust").unwrap()..doc.rfind("```").unwrap() + 3];
    assert!(code.len() < 600 && code.contains("\n\n"));
    assert!(chunks.iter().any(|c| c.text.contains(code)), "the code block is in one chunk");
    assert!(chunks.iter().all(|c| c.text.matches("```").count() % 2 == 0), "no chunk holds half a fence");
    let table = &doc[doc.find("| name").unwrap()..doc.find("| row 7 | value 7 |").unwrap() + 18];
    assert!(chunks.iter().any(|c| c.text.contains(table)), "the table is in one chunk");
    // A code block longer than the limit is cut (nothing else is possible).
    let small = config(ChunkStrategy::Recursive, 120, 0);
    let chunks = chunker().chunk_document(&doc, page(), &small, true, &[]);
    check_common(&doc, &chunks, 120, ChunkStrategy::Recursive);
    assert!(chunks.iter().filter(|c| c.text.contains("let value_")).count() > 1);
}

#[test]
fn recursive_lists_and_headings_without_text() {
    let doc = tricky();
    let chunks = chunker().chunk_document(&doc, page(), &config(ChunkStrategy::Recursive, 300, 0), true, &[]);
    let list = chunks.iter().find(|c| c.text.contains("level three item")).unwrap();
    assert!(list.text.contains("- level one item") && list.text.contains("- another top item"), "a short nested list stays together");
    // A heading without text opens no section: its text belongs to the section before.
    let orphan = chunks.iter().find(|c| c.text.contains("Text under a heading without text")).unwrap();
    assert_eq!(orphan.heading_path, ["Manual", "Table"]);
}

#[test]
fn by_heading_one_section_per_chunk() {
    let doc = tricky();
    let cfg = config(ChunkStrategy::ByHeading, 600, 100);
    let chunks = chunker().chunk_document(&doc, page(), &cfg, true, &[]);
    check_common(&doc, &chunks, 600, ChunkStrategy::ByHeading);
    // The small intro section joins the next one (and stops there: together they are big
    // enough); the code section fits and is one chunk.
    assert!(chunks[0].text.starts_with("# Manual") && chunks[0].text.contains("level three item"), "{:?}", chunks[0].text);
    assert!(!chunks[0].text.contains("## Code"));
    let code = chunks.iter().find(|c| c.text.contains("```rust")).unwrap();
    assert!(code.text.starts_with("## Code") && code.text.trim_end().ends_with("```"), "{:?}", code.text);
    assert_eq!(code.heading_path, ["Manual", "Code"]);
    assert_eq!(code.anchor.as_deref(), Some("code"));
    // No chunk spans two sections that were big enough to stand alone.
    assert!(!chunks.iter().any(|c| c.text.contains("## Code") && c.text.contains("## Table")));
    // Long sections are split inside their bounds, each part keeping the breadcrumb.
    let long: Vec<_> = chunks.iter().filter(|c| c.text.contains("word word")).collect();
    assert!(long.len() >= 2);
    assert!(long.iter().all(|c| c.heading_path == ["Manual", "Long line"]));
    assert!(long.iter().all(|c| c.embedding_text(true).starts_with("Guide > Manual > Long line\n\n")));
}

#[test]
fn by_heading_merges_small_sections_and_measures_tokens() {
    let body = "# T\n\n## A\n\nShort.\n\n## B\n\nAlso short.\n\n## C\n\n".to_owned() + &"A long section sentence here. ".repeat(60);
    let cfg = ChunkingConfig { strategy: ChunkStrategy::ByHeading, chunk_size: 100, chunk_overlap: 10, size_unit: SizeUnit::Tokens };
    let chunks = chunker().chunk_document(&body, page(), &cfg, false, &[]);
    let tokens = token_counter();
    assert!(chunks[0].text.contains("Short.") && chunks[0].text.contains("Also short."), "small sections merged");
    assert!(chunks.iter().all(|c| tokens.count(&c.text) - 2 <= 100));
    assert!(chunks.iter().filter(|c| c.heading_path == ["T", "C"]).count() >= 3);
}

#[test]
fn semantic_cuts_where_the_topic_changes() {
    let cats = "Cats sleep for most of the day in warm and quiet places. ".repeat(6);
    let tax = "Taxes are due at the end of the fiscal year for every citizen. ".repeat(6);
    let body = format!("{cats}{tax}");
    let cfg = config(ChunkStrategy::Semantic, 1000, 0);
    let c = chunker();
    let units = c.similarity_units(&body, &cfg);
    assert_eq!(units.len(), 12, "{units:?}");
    let vectors = topic_vectors(&c, &body, &cfg, "Taxes");
    let chunks = c.chunk_document(&body, page(), &cfg, false, &vectors);
    assert_eq!(chunks.len(), 2, "{chunks:#?}");
    assert!(chunks[0].text.contains("Cats") && !chunks[0].text.contains("Taxes"));
    assert!(chunks[1].text.starts_with("Taxes") && !chunks[1].text.contains("Cats"));
    // Without the similarity signal the same text stays one chunk (it fits).
    let flat: Vec<Vec<f32>> = vec![vec![1.0, 0.0]; units.len()];
    assert_eq!(c.chunk_document(&body, page(), &cfg, false, &flat).len(), 1);
    // Other strategies need no vectors.
    assert!(c.similarity_units(&body, &config(ChunkStrategy::Recursive, 1000, 200)).is_empty());
}

#[test]
fn semantic_respects_limits_and_structure() {
    let doc = tricky();
    let cfg = config(ChunkStrategy::Semantic, 700, 0);
    let c = chunker();
    let units = c.similarity_units(&doc, &cfg);
    // Code blocks and tables are single units; a heading is its own unit.
    assert!(units.iter().any(|u| u.starts_with("```rust") && u.ends_with("```")));
    assert!(units.iter().any(|u| u.starts_with("| name") && u.contains("| row 7 |")));
    assert!(units.iter().any(|u| u == "## Code"));
    let vectors = topic_vectors(&c, &doc, &cfg, "東京");
    let chunks = c.chunk_document(&doc, page(), &cfg, true, &vectors);
    check_common(&doc, &chunks, 700, ChunkStrategy::Semantic);
    assert!(chunks.iter().all(|c| c.text.matches("```").count() % 2 == 0), "no chunk holds half a fence");
    // The topic change into the CJK section starts a chunk there.
    assert!(chunks.iter().any(|c| c.text.starts_with("## 日本語")));
}

#[test]
fn every_strategy_is_deterministic_and_covers_the_text() {
    let doc = tricky();
    let c = chunker();
    for strategy in ChunkStrategy::ALL {
        let cfg = config(strategy, 500, 50);
        let vectors = topic_vectors(&c, &doc, &cfg, "Long");
        let a = c.chunk_document(&doc, page(), &cfg, true, &vectors);
        let b = c.chunk_document(&doc, page(), &cfg, true, &vectors);
        assert_eq!(a, b, "{strategy:?}");
        // Every word of the page is in some chunk.
        for word in ["Intro", "level three", "value_11", "row 7", "heading without text", "首都"] {
            assert!(a.iter().any(|ch| ch.text.contains(word)), "{strategy:?} lost {word:?}");
        }
    }
}
