-- Catalog of the embedded (SQLite) deployment. Same tables and columns as the Postgres
-- schema; UUIDs are 16-byte blobs, JSON and timestamps are text.

CREATE TABLE knowledge_bases (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL,
    config       TEXT NOT NULL,
    pipeline_id  BLOB NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT
);
CREATE INDEX knowledge_bases_workspace ON knowledge_bases (workspace_id, created_at);

CREATE TABLE sources (
    id             BLOB PRIMARY KEY NOT NULL,
    kb_id          BLOB NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    spec           TEXT NOT NULL,
    pages_admitted INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);
CREATE INDEX sources_kb ON sources (kb_id);

-- One row per page (crawled URL, uploaded file, pasted text).
CREATE TABLE documents (
    id           BLOB PRIMARY KEY NOT NULL,
    kb_id        BLOB NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    source_id    BLOB NOT NULL,
    url          TEXT NOT NULL,
    depth        INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT,
    title        TEXT,
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    links        TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (kb_id, url)
);
CREATE INDEX documents_kb_status ON documents (kb_id, status);
CREATE INDEX documents_kb_hash ON documents (kb_id, content_hash);

CREATE TABLE chunks (
    id           BLOB PRIMARY KEY NOT NULL,
    kb_id        BLOB NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    document_id  BLOB NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    source_id    BLOB NOT NULL,
    chunk_index  INTEGER NOT NULL,
    content      TEXT NOT NULL,
    url          TEXT NOT NULL,
    title        TEXT,
    heading_path TEXT NOT NULL,
    anchor       TEXT,
    start_offset INTEGER NOT NULL,
    end_offset   INTEGER NOT NULL,
    token_count  INTEGER NOT NULL,
    embedded     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TEXT NOT NULL
);
CREATE INDEX chunks_document ON chunks (document_id, chunk_index);
CREATE INDEX chunks_kb_embedded ON chunks (kb_id, embedded);
