//! `kb serve`, `kb worker`, `kb token`: the self-hosted server shape.

use std::process::ExitCode;
use std::time::Duration;

use kb_shared::api::{self, ApiState, Auth};
use kb_shared::drivers::signals::shutdown_signal;
use kb_shared::pipeline::worker::{self, Concurrency};
use kb_shared::settings::Settings;
use kb_shared::wiring::{context, Roles};

use super::usage;
use crate::cli::{ServeArgs, TokenArgs, WorkerArgs};

/// Server settings: the environment, `--data-dir`, and private networks refused unless
/// explicitly allowed.
fn server_settings(data_dir: Option<&std::path::PathBuf>) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env().map_err(|e| usage(e.to_string()))?.for_server();
    if let Some(dir) = data_dir {
        s.data_dir.clone_from(dir);
    }
    Ok(s)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = server_settings(args.data_dir.as_ref())?;
    let in_process_queues = settings.queue_urls.is_none();
    let auth = match Auth::from_settings(&settings).map_err(|e| usage(e.to_string()))? {
        Some(auth) => auth,
        None => {
            let secret = Auth::random_secret();
            let auth = Auth::hs256(&secret)?;
            let token = auth.issue("local", &["default".to_owned()], Duration::from_secs(24 * 3600))?;
            eprintln!("No KB_JWT_SECRET is configured: this run signs tokens with a random secret.");
            eprintln!("Token for user `local`, workspace `default`, valid 24 h:\n\n{token}\n");
            auth
        }
    };
    let state = ApiState::new(settings, Roles::ALL, auth).await?;
    let stop = shutdown_signal();
    let workers = in_process_queues.then(|| {
        eprintln!("No SQS queues configured: the pipeline workers run in this process.");
        tokio::spawn(worker::run(state.ctx.clone(), Concurrency::from_settings(&state.ctx), stop.clone()))
    });
    let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(|e| usage(format!("--addr {}: {e}", args.addr)))?;
    eprintln!("Listening on http://{}", listener.local_addr()?);
    let mut server_stop = stop.clone();
    let renderer = state.ctx.renderer.clone();
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|s| *s).await;
        })
        .await?;
    if let Some(w) = workers {
        let _ = w.await;
    }
    renderer.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let settings = server_settings(args.data_dir.as_ref())?;
    if settings.queue_urls.is_none() {
        return Err(usage(
            "kb worker consumes SQS queues: set KB_CRAWL_QUEUE_URL, KB_CHUNK_QUEUE_URL and KB_EMBED_QUEUE_URL \
             (without them, `kb serve` and `kb ingest` run the workers in-process)",
        ));
    }
    let ctx = context(settings, Roles::ALL).await?;
    eprintln!("Working on the crawl, chunk and embed queues (SIGTERM or Ctrl-C to stop).");
    worker::run(ctx.clone(), Concurrency::from_settings(&ctx), shutdown_signal()).await;
    ctx.renderer.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn parse_ttl(raw: &str) -> anyhow::Result<Duration> {
    let raw = raw.trim();
    let (num, unit) = raw.find(|c: char| !c.is_ascii_digit()).map_or((raw, ""), |i| raw.split_at(i));
    let n: u64 = num.parse().map_err(|_| usage(format!("--ttl: {raw:?} is not a duration (e.g. 3600, 90m, 24h, 7d)")))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(usage(format!("--ttl: unknown unit {unit:?} (s, m, h, d)"))),
    };
    if secs == 0 {
        return Err(usage("--ttl must be positive"));
    }
    Ok(Duration::from_secs(secs))
}

pub fn token(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env().map_err(|e| usage(e.to_string()))?;
    let secret = settings.jwt_secret.ok_or_else(|| usage("set KB_JWT_SECRET (at least 32 characters) to sign tokens"))?;
    let auth = Auth::hs256(secret.expose()).map_err(|e| usage(e.to_string()))?;
    if args.user.trim().is_empty() {
        return Err(usage("--user must not be empty"));
    }
    println!("{}", auth.issue(args.user.trim(), &args.workspaces, parse_ttl(&args.ttl)?)?);
    Ok(ExitCode::SUCCESS)
}
