#!/usr/bin/env bash
# LocalStack init hook (runs inside the LocalStack container once S3 and SQS are ready;
# docker-compose.yml mounts this directory at /etc/localstack/init/ready.d).
# Creates what the self-hosted `kb` expects, with the same shape as template.yaml:
#   bucket  kb-data
#   queues  kb-crawl, kb-chunk, kb-embed (visibility timeout 300 s), each redriving to its
#           dead-letter queue kb-crawl-dlq, kb-chunk-dlq, kb-embed-dlq after 4 receives
#           (KB_MAX_RECEIVES must stay equal to MAX_RECEIVES below).
# Idempotent: running it again leaves existing resources in place and re-applies attributes.
set -euo pipefail

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

BUCKET="kb-data"
QUEUES="kb-crawl kb-chunk kb-embed"
VISIBILITY_TIMEOUT=300
MAX_RECEIVES=4
DLQ_RETENTION=1209600 # 14 days

# awslocal ships in the LocalStack image; fall back to the plain AWS CLI pointed at LocalStack.
awslocal() {
    if type -P awslocal >/dev/null; then
        command awslocal "$@"
    else
        AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}" \
            aws --endpoint-url "${AWS_ENDPOINT_URL:-http://localhost:4566}" "$@"
    fi
}

if awslocal s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
    echo "kb: bucket $BUCKET exists"
else
    awslocal s3api create-bucket --bucket "$BUCKET" >/dev/null
    echo "kb: created bucket $BUCKET"
fi

# Prints the URL of queue $1, creating it when missing.
ensure_queue() {
    local name="$1" url
    if url="$(awslocal sqs get-queue-url --queue-name "$name" --query QueueUrl --output text 2>/dev/null)"; then
        echo "kb: queue $name exists" >&2
    else
        url="$(awslocal sqs create-queue --queue-name "$name" --query QueueUrl --output text)"
        echo "kb: created queue $name" >&2
    fi
    printf '%s\n' "$url"
}

for queue in $QUEUES; do
    dlq_url="$(ensure_queue "$queue-dlq")"
    awslocal sqs set-queue-attributes --queue-url "$dlq_url" \
        --attributes "{\"MessageRetentionPeriod\":\"$DLQ_RETENTION\"}"
    dlq_arn="$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" \
        --attribute-names QueueArn --query Attributes.QueueArn --output text)"

    url="$(ensure_queue "$queue")"
    redrive="{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"$MAX_RECEIVES\\\"}"
    awslocal sqs set-queue-attributes --queue-url "$url" \
        --attributes "{\"VisibilityTimeout\":\"$VISIBILITY_TIMEOUT\",\"RedrivePolicy\":\"$redrive\"}"
    echo "kb: $queue -> $queue-dlq after $MAX_RECEIVES receives, visibility ${VISIBILITY_TIMEOUT}s"
done
