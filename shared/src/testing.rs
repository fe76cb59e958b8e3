//! Helpers for tests: the real model directory (installed by scripts/setup.sh).

use std::path::PathBuf;

use crate::settings::Settings;
use crate::tokens::{ModelDir, TokenCounter};

/// The model directory tests use: `KB_MODEL_DIR` or the default location. Panics with the
/// fix when it is missing: tests run against the real model, never a stand-in.
#[must_use]
pub fn model_dir() -> PathBuf {
    let settings = Settings::from_env().expect("settings");
    assert!(
        settings.model_dir.join("model.safetensors").is_file(),
        "the embedding model is not installed at {} (run scripts/setup.sh or set KB_MODEL_DIR)",
        settings.model_dir.display()
    );
    settings.model_dir
}

/// The model's token counter.
#[must_use]
pub fn token_counter() -> TokenCounter {
    TokenCounter::open(&ModelDir::open(&model_dir()).expect("model directory")).expect("tokenizer")
}
