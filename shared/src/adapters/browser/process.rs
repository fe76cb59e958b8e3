//! A Chromium process launched by this process: headless, in a process group of its own (so
//! its zygote, renderer, GPU and network helpers go with it), with a fresh profile directory,
//! and its DevTools websocket URL read from its stderr. Dropping it kills the whole group,
//! reaps the main process and removes the profile. A watchdog kills the group too when this
//! process dies without doing it (SIGKILL, the OOM killer, a crash).

use std::io::BufRead as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a launch may take before it is given up.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of every launch: headless, no first-run chores, no background traffic of its own,
/// no images (text is what we keep). `--no-sandbox`: Chromium refuses to start as root
/// with its sandbox, and containers rarely allow it; run the crawler in a container or VM.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--blink-settings=imagesEnabled=false",
    // Tabs share a few renderer processes instead of starting one each (most of a page's
    // cost on a small machine).
    "--renderer-process-limit=2",
    "--disable-site-isolation-trials",
    // Background tabs would otherwise get their timers clamped to one per second, which the
    // settle wait of every tab but the front one runs on.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--remote-debugging-port=0",
];

pub(super) struct ChromiumProcess {
    child: Child,
    watchdog: Option<Child>,
    profile: PathBuf,
    reaped: bool,
}

/// A shell in a process group of its own (so a terminal's Ctrl-C or hang-up, which this
/// process handles, does not reach it), blocked reading a pipe that only this process holds
/// open: when this process is gone, however it died, the read ends and the shell kills the
/// browser's group. Killed first on an orderly shutdown. None if no shell could start (the
/// browser then only goes when this process takes it).
fn watchdog(group: u32) -> Option<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("trap '' INT TERM HUP QUIT; read -r line; kill -s KILL -- -{group} 2>/dev/null"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| tracing::warn!(error = %e, "no watchdog for the browser: /bin/sh did not start"))
        .ok()
}

impl ChromiumProcess {
    /// Starts `executable` with a profile at `profile` and returns it with its DevTools URL.
    pub(super) async fn launch(executable: &Path, profile: PathBuf, user_agent: &str) -> Result<(Self, String), String> {
        std::fs::create_dir_all(&profile).map_err(|e| format!("creating {}: {e}", profile.display()))?;
        let child = Command::new(executable)
            .args(FLAGS)
            .arg(format!("--user-agent={user_agent}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", executable.display()))?;
        let watchdog = watchdog(child.id());
        let mut process = Self { child, watchdog, profile, reaped: false };
        let stderr = process.child.stderr.take().expect("stderr is piped");
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads the DevTools URL, then keeps draining stderr so Chromium never blocks on it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut tail: Vec<String> = Vec::new();
            let mut reader = std::io::BufReader::new(stderr);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).trim().to_owned();
                line.clear();
                if let Some(ws) = text.strip_prefix("DevTools listening on ").filter(|ws| ws.starts_with("ws")) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(ws.to_owned()));
                    }
                } else if tx.is_some() {
                    tail.push(text);
                } else {
                    tracing::trace!(target: "chromium", "{text}");
                }
            }
            if let Some(tx) = tx.take() {
                let start = tail.len().saturating_sub(5);
                let _ = tx.send(Err(format!("Chromium exited: {}", tail[start..].join(" | "))));
            }
        });
        match tokio::time::timeout(LAUNCH_TIMEOUT, rx).await {
            Ok(Ok(Ok(ws))) => Ok((process, ws)),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err("Chromium's output ended early".to_owned()),
            Err(_) => Err(format!("Chromium did not start within {LAUNCH_TIMEOUT:?}")),
        }
        // On error `process` is dropped here: group killed, profile removed.
    }

    /// Whether the main process has exited (crashed or killed).
    pub(super) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the whole process group and reaps the main process.
    pub(super) fn kill(&mut self) {
        if self.reaped {
            return;
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let group = rustix::process::Pid::from_child(&self.child);
        // The group outlives a crashed main process while its helpers run: kill it anyway.
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
        let _ = std::fs::remove_dir_all(&self.profile);
    }

    /// The process id of the main Chromium process.
    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChromiumProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
