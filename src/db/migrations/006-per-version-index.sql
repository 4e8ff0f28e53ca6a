-- Visibility per version (access-spec §5.1): vread and _history must judge each version shown by the
-- same policy as a current version. The policy compiles to predicates over search index rows, so
-- index rows now belong to a VERSION, not to a resource: `seq` is resource_history.seq of the
-- version they were extracted from. Rows are never rewritten or deleted; a new version inserts its
-- own rows, and a query on current resources joins them by `resources.seq` (the current version).
ALTER TABLE sp_token ADD COLUMN seq bigint;
ALTER TABLE sp_string ADD COLUMN seq bigint;
ALTER TABLE sp_reference ADD COLUMN seq bigint;
ALTER TABLE sp_date ADD COLUMN seq bigint;
ALTER TABLE sp_number ADD COLUMN seq bigint;
ALTER TABLE sp_quantity ADD COLUMN seq bigint;
ALTER TABLE sp_uri ADD COLUMN seq bigint;

-- Existing rows were kept for the current version only (older versions' rows were deleted on update,
-- a deleted resource had none), so they belong to resources.seq. Older versions get theirs extracted
-- by the data step of this migration (src/db/migrate.ts → fhir/search/version-backfill.ts).
UPDATE sp_token x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_string x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_reference x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_date x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_number x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_quantity x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
UPDATE sp_uri x SET seq = r.seq FROM resources r WHERE r.resource_type = x.resource_type AND r.id = x.resource_id;
-- Orphans (none are expected) could never match anything; they go rather than block NOT NULL.
DELETE FROM sp_token WHERE seq IS NULL;
DELETE FROM sp_string WHERE seq IS NULL;
DELETE FROM sp_reference WHERE seq IS NULL;
DELETE FROM sp_date WHERE seq IS NULL;
DELETE FROM sp_number WHERE seq IS NULL;
DELETE FROM sp_quantity WHERE seq IS NULL;
DELETE FROM sp_uri WHERE seq IS NULL;
ALTER TABLE sp_token ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_string ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_reference ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_date ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_number ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_quantity ALTER COLUMN seq SET NOT NULL;
ALTER TABLE sp_uri ALTER COLUMN seq SET NOT NULL;

-- Joins go by version now: the (resource_type, resource_id) indexes are replaced by (seq, code) for
-- the per-row lookups (_sort, composite components, includes), and every value index ends in seq so
-- `alias.seq IN (SELECT x.seq FROM sp_… WHERE resource_type, code, value …)` is an index-only scan.
DROP INDEX sp_token_res;
DROP INDEX sp_string_res;
DROP INDEX sp_reference_res;
DROP INDEX sp_date_res;
DROP INDEX sp_number_res;
DROP INDEX sp_quantity_res;
DROP INDEX sp_uri_res;
CREATE INDEX sp_token_seq ON sp_token (seq, code);
CREATE INDEX sp_string_seq ON sp_string (seq, code);
CREATE INDEX sp_reference_seq ON sp_reference (seq, code);
CREATE INDEX sp_date_seq ON sp_date (seq, code);
CREATE INDEX sp_number_seq ON sp_number (seq, code);
CREATE INDEX sp_quantity_seq ON sp_quantity (seq, code);
CREATE INDEX sp_uri_seq ON sp_uri (seq, code);

DROP INDEX sp_token_value;
CREATE INDEX sp_token_value ON sp_token (resource_type, code, value, system, seq);
DROP INDEX sp_string_norm;
CREATE INDEX sp_string_norm ON sp_string (resource_type, code, norm text_pattern_ops, seq);
DROP INDEX sp_reference_target;
CREATE INDEX sp_reference_target ON sp_reference (resource_type, code, target_id, target_type, seq);
DROP INDEX sp_reference_rev;
CREATE INDEX sp_reference_rev ON sp_reference (target_type, target_id, resource_type, code, seq);
DROP INDEX sp_date_low;
CREATE INDEX sp_date_low ON sp_date (resource_type, code, low, high, seq);
DROP INDEX sp_date_high;
CREATE INDEX sp_date_high ON sp_date (resource_type, code, high, seq);
DROP INDEX sp_number_value;
CREATE INDEX sp_number_value ON sp_number (resource_type, code, value, seq);
DROP INDEX sp_quantity_value;
CREATE INDEX sp_quantity_value ON sp_quantity (resource_type, code, value, seq);
DROP INDEX sp_uri_value;
CREATE INDEX sp_uri_value ON sp_uri (resource_type, code, value, seq);

-- A current resource is found from its index rows by its version.
CREATE UNIQUE INDEX resources_seq ON resources (seq);

-- Per version: the Patients whose compartment held it, and the version that decides its access
-- (its own seq; for a delete tombstone the version it deleted, so a tombstone is visible exactly
-- when the deleted version was).
ALTER TABLE resource_history ADD COLUMN compartments text[] NOT NULL DEFAULT '{}';
ALTER TABLE resource_history ADD COLUMN access_seq bigint;
UPDATE resource_history h SET compartments = r.compartments FROM resources r WHERE r.seq = h.seq AND NOT h.deleted;
UPDATE resource_history h SET access_seq = h.seq WHERE NOT h.deleted;
UPDATE resource_history t SET access_seq = p.seq
  FROM resource_history p
 WHERE t.deleted AND p.resource_type = t.resource_type AND p.id = t.id AND p.version_id = t.version_id - 1;
-- Instance history pages by seq within one resource.
CREATE INDEX resource_history_instance ON resource_history (resource_type, id, seq);
