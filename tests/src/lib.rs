//! Fixture web sites served on 127.0.0.1 for the end-to-end tests and the benchmarks: a
//! generated documentation site with the boilerplate real sites have, and a server that
//! logs every request.

pub mod bench_site;
pub mod docs_site;
pub mod server;

pub use server::{FixtureServer, Response, Site};

/// Processes whose command line holds `marker`, this one excepted (every Chromium process of
/// one renderer has the renderer's marker in its `--user-data-dir`).
///
/// # Panics
/// `/proc` cannot be read (an empty answer would let "no process left" checks pass unchecked).
#[must_use]
pub fn processes_with(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Waits (bounded) for processes of `marker` to be gone: killed helpers may take a moment
/// to be reaped by init.
///
/// # Panics
/// Some are still there after 5 s.
pub async fn assert_no_processes(marker: &str) {
    for _ in 0..50 {
        if processes_with(marker).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("Chromium processes survived: {:?}", processes_with(marker));
}
