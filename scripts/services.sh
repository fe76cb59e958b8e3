# Starts the services the tests need, as host processes (sourced by scripts/test.sh):
# PostgreSQL with pgvector, Redis, and an S3 + SQS server (moto). Exports the variables the
# tests read: KB_TEST_DATABASE_URL, KB_TEST_REDIS_URL, KB_TEST_AWS_ENDPOINT.

PG_VERSION="${KB_PG_VERSION:-15}"
PGVECTOR_VERSION=0.8.0
PGVECTOR_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0

start_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        apt_install "postgresql-$PG_VERSION" postgresql-client
        if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
            as_root pg_createcluster "$PG_VERSION" main >&2
        fi
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
        for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    fi
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; return 1; }
    export KB_TEST_DATABASE_URL="${KB_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    local have
    have="$(psql "$KB_TEST_DATABASE_URL" -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" 2>/dev/null || true)"
    if [ "$have" != "1" ]; then
        install_pgvector
    fi
}

# Debian bookworm ships no pgvector package for PostgreSQL 15: build the extension from
# Debian's own source package (checksum-verified) against the server's headers.
install_pgvector() {
    echo "==> building pgvector $PGVECTOR_VERSION from Debian's source package" >&2
    apt_install "postgresql-server-dev-$PG_VERSION" build-essential curl
    local tmp
    tmp="$(mktemp -d)"
    curl -fsSL -o "$tmp/pgvector.tar.gz" "http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${PGVECTOR_VERSION}.orig.tar.gz"
    echo "$PGVECTOR_SHA256  $tmp/pgvector.tar.gz" | sha256sum -c - >&2
    tar -xzf "$tmp/pgvector.tar.gz" -C "$tmp"
    (cd "$tmp"/pgvector-* && make -s PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" OPTFLAGS="" >&2 \
        && as_root make -s PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" install >&2)
    rm -rf "$tmp"
}

start_redis() {
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        apt_install redis-server
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
        for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    export KB_TEST_REDIS_URL="${KB_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_moto() {
    local venv port
    venv="$(venv_install 'moto[s3,sqs,server]' flask flask-cors)"
    port="$(free_port)"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$KB_CACHE/moto.log" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
    export KB_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
}

stop_services() {
    [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null || true
}
