//! Drivers: what feeds the stage handlers their messages and HTTP requests. The same
//! handlers run under every driver: the AWS Lambda runtime (SQS batches, HTTP events), the
//! long-polling worker of `kb worker`, and the in-process runner of `kb ingest`.

#[cfg(feature = "lambda")]
pub mod lambda;
pub mod signals;
