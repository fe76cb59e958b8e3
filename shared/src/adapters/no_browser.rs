//! The renderer of a process without a browser (built without the `browser` feature, or no
//! Chromium found): every page asking for one fails with the reason.

use async_trait::async_trait;

use crate::ports::{FetchError, FetchRequest, FetchedPage, PageRenderer};

pub struct NoBrowser(pub String);

#[async_trait]
impl PageRenderer for NoBrowser {
    async fn render(&self, _request: &FetchRequest) -> Result<FetchedPage, FetchError> {
        Err(FetchError::BrowserUnavailable(self.0.clone()))
    }
}
