-- Bulk Data $export as a durable background job (issue 14 "A copy of one's data"; HL7 Bulk Data
-- Access IG v2). A job row holds everything needed to run (or re-run) it without the request that
-- started it: the access filters captured at kick-off (access-spec §0.2, the same filters a search
-- gets), the types, `_since` and the history snapshot. Output is NDJSON text in parts, so PGlite
-- in memory and PostgreSQL store it the same way.
CREATE TABLE export_jobs (
  id               text        PRIMARY KEY,
  status           text        NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  owner            text        NOT NULL,            -- who may poll and download: client|actor|patient of the requester
  request          text        NOT NULL,            -- the kick-off URL, for the manifest
  patient_id       text,                            -- patient-level export; NULL = system level
  types            text[]      NOT NULL,
  done_types       text[]      NOT NULL DEFAULT '{}', -- types whose parts are complete (resume starts after them)
  since            timestamptz,
  filters          jsonb       NOT NULL,            -- AccessFilter[] of the requester
  snapshot         bigint      NOT NULL DEFAULT 0,  -- reserved; pages are pinned per type to the search engine's snapshot
  transaction_time timestamptz NOT NULL,
  heartbeat        timestamptz,                     -- a running job whose heartbeat is stale is resumed by another runner
  error            text,
  created          timestamptz NOT NULL DEFAULT now(),
  finished         timestamptz
);
CREATE INDEX export_jobs_status ON export_jobs (status, created);

CREATE TABLE export_parts (
  job_id        text NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
  resource_type text NOT NULL,
  part          int  NOT NULL,
  count         int  NOT NULL,
  ndjson        text NOT NULL,
  PRIMARY KEY (job_id, resource_type, part)
);
