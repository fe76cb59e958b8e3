//! Per-host politeness, shared by every worker of a deployment through the key-value store
//! (in process for the embedded default, Redis in the cloud): at most
//! `max_concurrency_per_host` page requests in flight to a host, and requests at least an
//! interval apart when robots.txt asks for a `Crawl-delay` (capped at [`MAX_CRAWL_DELAY`]) or
//! the source sets `max_requests_per_second`.
//!
//! A crawl handler waits in process for a turn up to [`MAX_TURN_WAIT`] away; a later turn is
//! not reserved, and the page's message is sent again with that delay instead (a new
//! message, so waiting for a busy host never uses up the message's deliveries).

use std::time::Duration;

use rand::Rng as _;
use url::Url;

use crate::crawl::robots::Robots;
use crate::domain::CrawlConfig;
use crate::error::StageError;

use super::Context;

/// Longest robots.txt `Crawl-delay` honoured; a longer one counts as this.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(30);
/// Longest wait for a turn inside a handler.
const MAX_TURN_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for a free request slot inside a handler.
const MAX_LEASE_WAIT: Duration = Duration::from_secs(5);

/// The smallest interval between two requests to a host.
#[must_use]
pub fn min_interval(config: &CrawlConfig, robots: &Robots) -> Duration {
    let delay = if config.respect_robots_txt {
        robots
            .crawl_delay()
            .filter(|d| d.is_finite() && *d > 0.0)
            .map_or(Duration::ZERO, |d| Duration::from_secs_f32(d.min(MAX_CRAWL_DELAY.as_secs_f32())))
    } else {
        Duration::ZERO
    };
    let rate = config.max_requests_per_second.map_or(Duration::ZERO, |rps| Duration::from_secs_f64(1.0 / rps));
    delay.max(rate)
}

/// What a handler may do about its request.
pub(crate) enum Gate {
    /// Send it now, holding this slot until the response is read.
    Go(Slot),
    /// The host is busy: try again after this delay.
    Later(Duration),
}

/// One of the host's request slots, held by this request.
pub(crate) struct Slot {
    key: String,
    holder: String,
}

/// `host:port` of a URL (the scheme's default port when none is given).
fn host_of(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
}

/// Waits for `url`'s host to accept one more request from us: first the turn (when requests
/// to it must be `interval` apart), then a free slot.
///
/// # Errors
/// The key-value store failed.
pub(crate) async fn enter(ctx: &Context, url: &Url, config: &CrawlConfig, interval: Duration) -> Result<Gate, StageError> {
    let host = host_of(url);
    if !interval.is_zero() {
        let turn = ctx.kv.reserve_turn(&format!("polite:turn:{host}"), interval, MAX_TURN_WAIT).await?;
        if !turn.reserved {
            return Ok(Gate::Later(turn.wait));
        }
        tokio::time::sleep(turn.wait).await;
    }
    let key = format!("polite:slots:{host}");
    let holder = uuid::Uuid::new_v4().to_string();
    // A slot outlives its request only when the holder crashed.
    let ttl = ctx.settings.fetch_timeout + Duration::from_secs(10);
    let deadline = tokio::time::Instant::now() + MAX_LEASE_WAIT;
    let mut pause = Duration::from_millis(2);
    loop {
        if ctx.kv.acquire_lease(&key, &holder, config.max_concurrency_per_host, ttl).await? {
            return Ok(Gate::Go(Slot { key, holder }));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Gate::Later(Duration::from_millis(rand::rng().random_range(500..1500))));
        }
        let jittered = pause.mul_f64(rand::rng().random_range(0.5..1.5));
        tokio::time::sleep(jittered).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Gives the slot back (a failure only means it lapses on its own).
pub(crate) async fn leave(ctx: &Context, slot: Slot) {
    if let Err(e) = ctx.kv.release_lease(&slot.key, &slot.holder).await {
        tracing::warn!(error = %e, key = slot.key, "could not release a host slot; it will lapse");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawl_delay_is_capped_and_the_larger_interval_wins() {
        let robots = |delay: &str| Robots::from_response("kb-crawler/1", 200, format!("User-agent: *\nCrawl-delay: {delay}\n").as_bytes());
        let config = CrawlConfig::default();
        assert_eq!(min_interval(&config, &Robots::allow_all()), Duration::ZERO);
        assert_eq!(min_interval(&config, &robots("1.5")), Duration::from_millis(1500));
        assert_eq!(min_interval(&config, &robots("3600")), MAX_CRAWL_DELAY);
        let ignoring = CrawlConfig { respect_robots_txt: false, ..Default::default() };
        assert_eq!(min_interval(&ignoring, &robots("5")), Duration::ZERO);
        let limited = CrawlConfig { max_requests_per_second: Some(4.0), ..Default::default() };
        assert_eq!(min_interval(&limited, &robots("1")), Duration::from_secs(1));
        assert_eq!(min_interval(&limited, &Robots::allow_all()), Duration::from_millis(250));
    }
}
