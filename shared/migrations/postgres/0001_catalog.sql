-- Catalog of server deployments (Postgres). The seeds' tables: knowledge_bases, documents
-- (one row per page), chunks; plus sources (with each web source's page budget).

CREATE TABLE IF NOT EXISTS knowledge_bases (
    id           UUID PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL,
    config       JSONB NOT NULL,
    pipeline_id  UUID NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS knowledge_bases_workspace ON knowledge_bases (workspace_id, created_at);

CREATE TABLE IF NOT EXISTS sources (
    id             UUID PRIMARY KEY,
    kb_id          UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    spec           JSONB NOT NULL,
    pages_admitted BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_kb ON sources (kb_id);

CREATE TABLE IF NOT EXISTS documents (
    id           UUID PRIMARY KEY,
    kb_id        UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    source_id    UUID NOT NULL,
    url          TEXT NOT NULL,
    depth        BIGINT NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT,
    title        TEXT,
    chunk_count  BIGINT NOT NULL DEFAULT 0,
    content_hash TEXT,
    links        JSONB NOT NULL DEFAULT '[]',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (kb_id, url)
);
CREATE INDEX IF NOT EXISTS documents_kb_status ON documents (kb_id, status);
CREATE INDEX IF NOT EXISTS documents_kb_hash ON documents (kb_id, content_hash);

CREATE TABLE IF NOT EXISTS chunks (
    id           UUID PRIMARY KEY,
    kb_id        UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    document_id  UUID NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    source_id    UUID NOT NULL,
    chunk_index  BIGINT NOT NULL,
    content      TEXT NOT NULL,
    url          TEXT NOT NULL,
    title        TEXT,
    heading_path JSONB NOT NULL,
    anchor       TEXT,
    start_offset BIGINT NOT NULL,
    end_offset   BIGINT NOT NULL,
    token_count  BIGINT NOT NULL,
    embedded     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks (document_id, chunk_index);
CREATE INDEX IF NOT EXISTS chunks_kb_embedded ON chunks (kb_id, embedded);
