use async_trait::async_trait;

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// Whether a text is a stored passage or a search query (some models prefix them
/// differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    Document,
    Query,
}

/// A text-embedding model.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Name of the model, stored with each knowledge base.
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dimension(&self) -> usize;

    /// Longest input in tokens (special tokens included); longer input is truncated.
    fn max_tokens(&self) -> usize;

    /// One L2-normalised vector per text, in order.
    ///
    /// # Errors
    /// The model failed to run.
    async fn embed(&self, texts: &[String], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Scales `v` to unit length in place, as [`Embedder::embed`] returns its vectors; a zero
/// vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_scales_to_unit_length_and_keeps_zero() {
        let mut v = [3.0, 0.0, -4.0];
        normalize(&mut v);
        assert_eq!(v, [0.6, 0.0, -0.8]);
        let mut zero = [0.0f32; 3];
        normalize(&mut zero);
        assert_eq!(zero, [0.0; 3]);
    }
}
