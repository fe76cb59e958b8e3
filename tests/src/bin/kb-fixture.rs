//! Serves a fixture site on 127.0.0.1 until killed, for manual runs and benchmarks.
//!
//!     kb-fixture [docs|bench PAGES] [--port PORT]

use kb_e2e::docs_site::DocsSite;
use kb_e2e::{bench_site, FixtureServer};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args.iter().position(|a| a == "--port").and_then(|i| args.get(i + 1)).and_then(|p| p.parse::<u16>().ok());
    let site = match args.first().map(String::as_str) {
        Some("bench") => bench_site::generate(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100)),
        _ => DocsSite::generate().site,
    };
    let server = FixtureServer::start_on(site, port.unwrap_or(0)).await;
    println!("{}", server.url("/"));
    tokio::signal::ctrl_c().await.expect("wait for ctrl-c");
}
