//! Typed settings: compiled-in defaults, overridden by environment variables (every one is
//! documented in README.md). Read once at start-up; nothing else reads the environment.

use std::path::PathBuf;
use std::time::Duration;

/// A setting with an unusable value.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct SettingsError {
    pub var: String,
    pub message: String,
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Every setting of a process.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `KB_DATA_DIR`: where the embedded adapters keep their files.
    pub data_dir: PathBuf,
    /// `KB_MODEL_DIR`: the embedding model directory.
    pub model_dir: PathBuf,
    /// `KB_USER_AGENT`: sent with every crawler request.
    pub user_agent: String,
    /// `KB_FETCH_TIMEOUT_SECS`: per-page request timeout.
    pub fetch_timeout: Duration,
    /// `KB_MAX_PAGE_BYTES`: largest page body accepted (decompressed).
    pub max_page_bytes: u64,
    /// `KB_CRAWL_CONCURRENCY`: pages fetched at once by one process.
    pub crawl_concurrency: usize,
    /// `KB_ALLOW_PRIVATE_NETWORKS`: let the crawler reach loopback / private addresses.
    /// `None` means the mode's default (allowed for the local CLI, refused for servers).
    pub allow_private_networks: Option<bool>,
    /// `KB_MAX_RECEIVES`: deliveries of a message before it is dead-lettered.
    pub max_receives: u32,
    /// `KB_VISIBILITY_TIMEOUT_SECS`: how long a received message stays invisible.
    pub visibility_timeout: Duration,
}

/// Name of the default model's directory under `<data dir>/models`.
pub const DEFAULT_MODEL_DIR_NAME: &str = "all-MiniLM-L6-v2";

/// The user's data directory for this product (`~/.local/share/kb` on Linux).
#[must_use]
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("kb")
}

impl Settings {
    /// Settings from the process environment.
    ///
    /// # Errors
    /// A variable is set to an unusable value.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Settings from any variable lookup (tests pass a map).
    ///
    /// # Errors
    /// A variable is set to an unusable value.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let data_dir = get("KB_DATA_DIR").map_or_else(default_data_dir, PathBuf::from);
        let model_dir = get("KB_MODEL_DIR")
            .map_or_else(|| default_data_dir().join("models").join(DEFAULT_MODEL_DIR_NAME), PathBuf::from);
        Ok(Self {
            data_dir,
            model_dir,
            user_agent: get("KB_USER_AGENT").unwrap_or_else(|| {
                format!("kb-crawler/{} (+https://github.com/kb-builder/kb)", env!("CARGO_PKG_VERSION"))
            }),
            fetch_timeout: Duration::from_secs(parse(&get, "KB_FETCH_TIMEOUT_SECS", 30, 1..=600)?),
            max_page_bytes: parse(&get, "KB_MAX_PAGE_BYTES", 5 * 1024 * 1024, 1024..=1024 * 1024 * 1024)?,
            crawl_concurrency: parse(&get, "KB_CRAWL_CONCURRENCY", 16, 1..=1024)?,
            allow_private_networks: get("KB_ALLOW_PRIVATE_NETWORKS")
                .map(|v| parse_bool("KB_ALLOW_PRIVATE_NETWORKS", &v))
                .transpose()?,
            max_receives: parse(&get, "KB_MAX_RECEIVES", 4, 1..=100)?,
            visibility_timeout: Duration::from_secs(parse(&get, "KB_VISIBILITY_TIMEOUT_SECS", 300, 1..=43_200)?),
        })
    }

    /// Where the embedded catalog lives.
    #[must_use]
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("catalog.db")
    }

    /// Where the embedded blob store lives.
    #[must_use]
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// Where the embedded vector index lives.
    #[must_use]
    pub fn vector_dir(&self) -> PathBuf {
        self.data_dir.join("vectors")
    }
}

fn parse<T>(get: &impl Fn(&str) -> Option<String>, var: &str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(var) else { return Ok(default) };
    let value: T = raw.trim().parse().map_err(|_| SettingsError {
        var: var.to_owned(),
        message: format!("expected a number, got {raw:?}"),
    })?;
    if !range.contains(&value) {
        return Err(SettingsError {
            var: var.to_owned(),
            message: format!("must be between {} and {}, got {value}", range.start(), range.end()),
        });
    }
    Ok(value)
}

fn parse_bool(var: &str, raw: &str) -> Result<bool, SettingsError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(SettingsError { var: var.to_owned(), message: format!("expected true or false, got {raw:?}") }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_load() {
        let s = with(&[]).unwrap();
        assert!(s.data_dir.ends_with("kb"));
        assert!(s.model_dir.ends_with("models/all-MiniLM-L6-v2"));
        assert_eq!(s.fetch_timeout, Duration::from_secs(30));
        assert_eq!(s.allow_private_networks, None);
        assert!(s.user_agent.starts_with("kb-crawler/"));
    }

    #[test]
    fn overrides_apply_and_bad_values_name_the_variable() {
        let s = with(&[("KB_DATA_DIR", "/tmp/x"), ("KB_ALLOW_PRIVATE_NETWORKS", "true"), ("KB_FETCH_TIMEOUT_SECS", "5")])
            .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.allow_private_networks, Some(true));
        assert_eq!(s.fetch_timeout, Duration::from_secs(5));
        assert_eq!(with(&[("KB_FETCH_TIMEOUT_SECS", "abc")]).unwrap_err().var, "KB_FETCH_TIMEOUT_SECS");
        assert_eq!(with(&[("KB_FETCH_TIMEOUT_SECS", "0")]).unwrap_err().var, "KB_FETCH_TIMEOUT_SECS");
        assert_eq!(with(&[("KB_ALLOW_PRIVATE_NETWORKS", "maybe")]).unwrap_err().var, "KB_ALLOW_PRIVATE_NETWORKS");
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
