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

/// The variables that point a process at external services or keys. Tests of the one-process
/// default clear them, so the caller's environment (a test run with `QDRANT_URL` set, say)
/// neither turns them into tests of something else nor lets them write into a shared server.
pub const SERVICE_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "KB_REDIS_PREFIX",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "KB_QDRANT_COLLECTION",
    "KB_VECTOR_INDEX",
    "KB_BUCKET",
    "KB_CRAWL_QUEUE_URL",
    "KB_CHUNK_QUEUE_URL",
    "KB_EMBED_QUEUE_URL",
    "KB_JWT_SECRET",
    "KB_JWT_PUBLIC_KEY",
    "KB_BROWSER_WS_URL",
];

/// Settings from the process environment without [`SERVICE_VARS`]: the embedded default.
///
/// # Panics
/// Another variable is set to an unusable value.
#[must_use]
pub fn local_settings() -> Settings {
    Settings::from_lookup(|k| if SERVICE_VARS.contains(&k) { None } else { crate::settings::env_var(k) }).expect("settings")
}

/// The model's token counter.
#[must_use]
pub fn token_counter() -> TokenCounter {
    TokenCounter::open(&ModelDir::open(&model_dir()).expect("model directory")).expect("tokenizer")
}

/// Redis of the test machine (`KB_TEST_REDIS_URL`, default the local server).
#[must_use]
pub fn redis_url() -> String {
    std::env::var("KB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Postgres administration URL of the test machine (`KB_TEST_DATABASE_URL`).
#[must_use]
pub fn postgres_admin_url() -> String {
    std::env::var("KB_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped when this value is dropped.
#[cfg(feature = "postgres")]
pub struct TestDatabase {
    pub url: String,
    name: String,
}

#[cfg(feature = "postgres")]
impl TestDatabase {
    /// Creates an empty database on the test server.
    ///
    /// # Panics
    /// The server is unreachable (start it: scripts/test.sh does).
    pub async fn create() -> Self {
        use sqlx::Connection as _;
        let admin = postgres_admin_url();
        let name = format!("kbtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("Postgres at {admin} is not reachable ({e}); scripts/test.sh starts it"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self { url: format!("{base}/{name}"), name }
    }

    /// Connections open to this database now (asked over a connection to another one).
    ///
    /// # Panics
    /// The server is unreachable.
    pub async fn open_connections(&self) -> i64 {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.expect("connect to the admin database");
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(&self.name)
            .fetch_one(&mut admin)
            .await
            .expect("count connections")
    }
}

#[cfg(feature = "postgres")]
impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (postgres_admin_url(), self.name.clone());
        // Dropped from async tests too: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The S3 + SQS test server (moto) that scripts/test.sh starts: `KB_TEST_AWS_ENDPOINT`.
///
/// # Panics
/// The variable is not set.
#[must_use]
pub fn aws_endpoint() -> String {
    std::env::var("KB_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("KB_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the S3/SQS server")
    })
}

/// AWS configuration pointing at the test server, with static test credentials.
#[cfg(feature = "aws")]
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(aws_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "kb-tests"))
        .load()
        .await
}

/// Creates (with unique names) the three queues with dead-letter queues (max receives `max`) like the
/// deployment does.
///
/// # Panics
/// The test server refuses.
#[cfg(feature = "aws")]
pub async fn create_queues(client: &aws_sdk_sqs::Client, max: u32, visibility_secs: u32) -> crate::adapters::aws::QueueUrls {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut urls = Vec::new();
    for stage in ["crawl", "chunk", "embed"] {
        let name = unique_name(&format!("kb-{stage}"));
        let dlq = client.create_queue().queue_name(format!("{name}-dlq")).send().await.unwrap();
        let dlq_url = dlq.queue_url().unwrap();
        let arn = client
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max.to_string()}).to_string();
        let queue = client
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .attributes(QueueAttributeName::VisibilityTimeout, visibility_secs.to_string())
            .send()
            .await
            .unwrap();
        urls.push(queue.queue_url().unwrap().to_owned());
    }
    crate::adapters::aws::QueueUrls { crawl: urls[0].clone(), chunk: urls[1].clone(), embed: urls[2].clone() }
}

/// Messages in a queue: (visible, in flight).
///
/// # Panics
/// The test server refuses.
#[cfg(feature = "aws")]
pub async fn queue_depth(client: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    let n = |a: &A| attrs.get(a).and_then(|v| v.parse().ok()).unwrap_or(0);
    (n(&A::ApproximateNumberOfMessages), n(&A::ApproximateNumberOfMessagesNotVisible))
}

/// A name no other test run uses: `{prefix}-{uuid}`.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
