//! AWS adapters: the blob store on S3 and the work queues on SQS (LocalStack, MinIO and
//! moto through `AWS_ENDPOINT_URL`). Clients are built once per process from the standard
//! AWS configuration chain (environment, profile, instance role).

mod s3;
mod sqs;

pub use s3::S3BlobStore;
pub use sqs::{QueueUrls, SqsQueue};

use aws_config::BehaviorVersion;

/// The shared AWS configuration of this process.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Whether requests go to a non-AWS endpoint (LocalStack, MinIO, moto), which needs
/// path-style S3 addressing and checksums only where required.
#[must_use]
pub fn custom_endpoint(config: &aws_config::SdkConfig) -> bool {
    config.endpoint_url().is_some_and(|u| !u.contains("amazonaws.com"))
}

fn sdk_err<E, R>(what: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> crate::error::StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::error::StoreError::Unknown(anyhow::anyhow!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))
}
#[cfg(test)]
pub(crate) mod tests;
