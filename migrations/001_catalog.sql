-- The feature catalog as loaded from config/features.catalog.json, with every
-- version of every spec kept, and one catalog version number that increases
-- whenever a load changes anything.

CREATE TABLE features_catalog (
    id           text PRIMARY KEY,
    entity       text NOT NULL,
    description  text NOT NULL,
    unit         text NOT NULL,
    frequency    text NOT NULL,
    ttl_ms       bigint NOT NULL CHECK (ttl_ms > 0),
    tags         text[] NOT NULL DEFAULT '{}',
    source       jsonb NOT NULL,
    quality      jsonb NOT NULL DEFAULT '{}',
    spec         jsonb NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX features_catalog_tags_idx ON features_catalog USING gin (tags);

CREATE TABLE features_catalog_history (
    id         text NOT NULL,
    version    integer NOT NULL,
    spec       jsonb NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version)
);

CREATE TABLE catalog_meta (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO catalog_meta (version) VALUES (0);

CREATE TABLE datasources (
    id         text PRIMARY KEY,
    spec       jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
