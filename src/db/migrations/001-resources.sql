-- Current resources and their full version history. JSONB is the source of truth; search index
-- tables (002) are derived from it at write time in the same transaction.
CREATE SEQUENCE history_seq;

CREATE TABLE resources (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL DEFAULT false,
  content       jsonb,                                -- NULL once deleted (the tombstone)
  compartments  text[]      NOT NULL DEFAULT '{}',    -- ids of the Patients whose compartment holds it
  seq           bigint      NOT NULL,                 -- history_seq of the current version
  PRIMARY KEY (resource_type, id)
);
CREATE INDEX resources_type_updated ON resources (resource_type, last_updated, id);
CREATE INDEX resources_compartments ON resources USING gin (compartments);

CREATE TABLE resource_history (
  seq           bigint      PRIMARY KEY,
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL,
  method        text        NOT NULL,                 -- POST | PUT | PATCH | DELETE
  content       jsonb,
  UNIQUE (resource_type, id, version_id)
);
CREATE INDEX resource_history_type_updated ON resource_history (resource_type, last_updated, seq);
CREATE INDEX resource_history_updated ON resource_history (last_updated, seq);
