-- Export jobs: what to ship where. Each target keeps its own watermark
-- (the last seq it holds, written with the rows), so the catalog only
-- remembers the definitions and whether a job is paused.
CREATE TABLE export_jobs (
    id         VARCHAR NOT NULL PRIMARY KEY,
    tenant_id  VARCHAR NOT NULL,
    spec       VARCHAR NOT NULL,   -- the job's JSON definition
    paused     BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
