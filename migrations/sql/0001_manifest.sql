-- The manifest: every Parquet file of the warehouse, with the seq range it
-- holds, and the flushed-seq watermark. A flush or compaction changes both in
-- one transaction.
CREATE TABLE parquet_files (
    path       VARCHAR NOT NULL,   -- relative to the warehouse directory
    tenant_id  VARCHAR NOT NULL,
    date       DATE    NOT NULL,
    seq_lo     UBIGINT NOT NULL,
    seq_hi     UBIGINT NOT NULL,
    rows       BIGINT  NOT NULL,
    bytes      BIGINT  NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE warehouse_state (
    key   VARCHAR NOT NULL,
    value UBIGINT NOT NULL
);

INSERT INTO warehouse_state VALUES ('flushed_seq', 0);
