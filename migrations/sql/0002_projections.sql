-- Projection definitions, one row per version. The active version serves
-- reads; a newer one rebuilds in the background and becomes active when it
-- has caught up. Dead letters are the events a projection could not apply.
CREATE TABLE projection_versions (
    tenant_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    version    BIGINT  NOT NULL,
    kind       VARCHAR NOT NULL,   -- sql | js
    source     VARCHAR NOT NULL,
    on_error   VARCHAR NOT NULL,   -- skip | stop
    stopped    BOOLEAN NOT NULL DEFAULT false,
    active     BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name, version)
);

CREATE TABLE projection_dead_letters (
    tenant_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    version    BIGINT  NOT NULL,
    seq        UBIGINT NOT NULL,
    event_type VARCHAR NOT NULL,
    entity_id  VARCHAR NOT NULL,
    error      VARCHAR NOT NULL,
    attempts   INTEGER NOT NULL,
    parked_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
