//! The subcommands. Errors a user can fix by changing the command line exit with 2, other
//! failures with 1.

mod eval;
mod ingest;
mod inspect;
mod server;

use std::process::ExitCode;

use kb_shared::settings::Settings;

use crate::cli::{Cli, Command, DataArgs};

/// Bad input on the command line (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Usage>().is_some() { 2 } else { 1 }
}

/// Settings from the environment, with `--data-dir` applied.
fn settings(data: &DataArgs) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env().map_err(|e| usage(e.to_string()))?;
    if let Some(dir) = &data.data_dir {
        s.data_dir.clone_from(dir);
    }
    Ok(s)
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => ingest::run(args).await,
        Command::Search(args) => inspect::search(args).await,
        Command::Eval(args) => eval::run(args).await,
        Command::Pages(args) => inspect::pages(args).await,
        Command::List(args) => inspect::list(args).await,
        Command::Serve(args) => server::serve(args).await,
        Command::Worker(args) => server::worker(args).await,
        Command::Token(args) => server::token(&args),
    }
}

/// A search mode named on the command line (clap has checked the name).
fn parse_mode(mode: &str) -> kb_shared::domain::SearchMode {
    use kb_shared::domain::SearchMode;
    match mode {
        "dense" => SearchMode::Dense,
        "sparse" => SearchMode::Sparse,
        _ => SearchMode::Hybrid,
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON output"));
}
