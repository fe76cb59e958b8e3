//! `kb`: the knowledge-base builder in one process (the local runner of every function).

use kb_cli::{alloc, cli, commands};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    alloc::tune();
    let args = <cli::Cli as clap::Parser>::parse();
    cli::init_tracing(args.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(commands::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(commands::exit_code(&e))
        }
    }
}
