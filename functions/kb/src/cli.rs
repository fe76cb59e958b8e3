//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build a searchable knowledge base from web sites, on this machine, with no external API.
#[derive(Parser, Debug)]
#[command(name = "kb", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Where knowledge bases are stored [env: KB_DATA_DIR; default: ~/.local/share/kb].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Crawl web sites into a new knowledge base and wait until it is searchable.
    ///
    /// The local command may crawl loopback and private addresses (your own docs on
    /// localhost); server modes refuse them unless KB_ALLOW_PRIVATE_NETWORKS=true.
    Ingest(IngestArgs),
    /// Search a knowledge base.
    Search(SearchArgs),
    /// Measure retrieval quality on a question set: recall@1/5/10 and MRR@10.
    ///
    /// FILE holds one JSON object per line: {"question": "...", "pages": ["url or path", ...]},
    /// the pages that answer the question (absolute URLs, or paths matched against the end of
    /// a result's URL path). A hit is a result whose page is one of them.
    Eval(EvalArgs),
    /// List the pages of a knowledge base with their outcome.
    Pages(KbArgs),
    /// List knowledge bases.
    List(DataArgs),
    /// Serve the HTTP API (drafts, sources, finalize, status, knowledge bases, search).
    ///
    /// Server mode: the crawler refuses loopback and private addresses unless
    /// KB_ALLOW_PRIVATE_NETWORKS=true. Without SQS queues configured, the pipeline workers
    /// run in this process too.
    Serve(ServeArgs),
    /// Work on the SQS queues (crawl, chunk, embed) until stopped; run as many as you like.
    Worker(WorkerArgs),
    /// Print an access token signed with KB_JWT_SECRET, for local use.
    Token(TokenArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,
    /// Where embedded adapters keep their data [env: KB_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Where embedded adapters keep their data [env: KB_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The user id (the token's `sub`).
    #[arg(long)]
    pub user: String,
    /// A workspace the user may use; repeatable.
    #[arg(long = "workspace", required = true)]
    pub workspaces: Vec<String>,
    /// Lifetime, e.g. 3600, 90m, 24h, 7d.
    #[arg(long, default_value = "24h")]
    pub ttl: String,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Start URLs (each is one web source).
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// Pages crawled at most per start URL.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_pages: u32,
    /// Link depth followed from the start URL (the start URL is depth 0).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_depth: u32,
    /// Only crawl URL paths matching this glob (e.g. '/docs/**'); repeatable.
    #[arg(long = "include", value_name = "GLOB")]
    pub include: Vec<String>,
    /// Never crawl URL paths matching this glob; repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Name of the knowledge base (default: the first URL's host).
    #[arg(long)]
    pub name: Option<String>,
    /// How pages are fetched: auto (HTTP, and headless Chromium for empty JavaScript
    /// shells), http, or browser (every page rendered).
    #[arg(long, default_value = "auto", value_parser = ["auto", "http", "browser"])]
    pub render: String,
    #[command(flatten)]
    pub chunking: ChunkingArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

/// How pages are cut into chunks and searched (default: the product's defaults).
#[derive(Args, Debug, Clone)]
pub struct ChunkingArgs {
    /// Chunking strategy [default: recursive].
    #[arg(long, value_parser = ["recursive", "by_heading", "semantic", "fixed"])]
    pub strategy: Option<String>,
    /// Largest chunk, in --size-unit [default: 500 characters].
    #[arg(long, value_name = "N")]
    pub chunk_size: Option<u32>,
    /// Text repeated from one chunk to the next, in --size-unit [default: 100 characters].
    #[arg(long, value_name = "N")]
    pub chunk_overlap: Option<u32>,
    /// Unit of --chunk-size and --chunk-overlap [default: characters].
    #[arg(long, value_parser = ["characters", "tokens"])]
    pub size_unit: Option<String>,
    /// Embed each chunk with its page title and heading path before it [default: true].
    #[arg(long, value_name = "BOOL")]
    pub contextual_headers: Option<bool>,
    /// Part of the neighbouring chunks' vectors mixed into each chunk's, 0 to 1
    /// [default: 0.2; 0 embeds each chunk on its own].
    #[arg(long, value_name = "W")]
    pub neighbor_weight: Option<f32>,
    /// Search mode of the knowledge base when a search names none [default: hybrid].
    #[arg(long, value_parser = ["dense", "sparse", "hybrid"])]
    pub search_mode: Option<String>,
    /// Whether a search of the knowledge base returns each page once, with its best chunk,
    /// when the search does not say [default: true].
    #[arg(long, value_name = "BOOL")]
    pub group_by_page: Option<bool>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub kb: KbArgs,
    /// The question set (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub qa: PathBuf,
    /// Results fetched per question.
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub top_k: usize,
    /// dense, sparse (keywords) or hybrid (both, fused) [default: the KB's].
    #[arg(long, value_parser = ["dense", "sparse", "hybrid"])]
    pub mode: Option<String>,
    /// Each page once, with its best chunk (true), or every matching chunk (false)
    /// [default: the KB's].
    #[arg(long, value_name = "BOOL")]
    pub group_by_page: Option<bool>,
}

#[derive(Args, Debug)]
pub struct KbArgs {
    /// The knowledge base id (see `kb list`).
    #[arg(long = "kb", value_name = "KB_ID")]
    pub kb: String,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub kb: KbArgs,
    /// Results to return.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top_k: usize,
    /// dense, sparse (keywords) or hybrid (both, fused) [default: the KB's].
    #[arg(long, value_parser = ["dense", "sparse", "hybrid"])]
    pub mode: Option<String>,
    /// Each page once, with its best chunk (true), or every matching chunk (false)
    /// [default: the KB's].
    #[arg(long, value_name = "BOOL")]
    pub group_by_page: Option<bool>,
    /// The question or keywords.
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
}

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,qdrant_edge=error",
        1 => "info,qdrant_edge=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
