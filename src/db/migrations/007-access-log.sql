-- The citizen's access log (seed S23 "who has accessed your journal"; issue 11 §1): one narrow,
-- append-only row per patient per response that showed their data, and per patient and kind of write.
-- It used to be AuditEvent resources in `resources` with search-index rows, so every read wrote a
-- resource, a history row and index rows; now a read writes one row here and nothing else.
-- At the FHIR API, AuditEvent is a read-only view of this table (src/audit/audit-event.ts).
CREATE TABLE access_log (
  seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- insertion order; paging snapshot
  id          text        NOT NULL DEFAULT gen_random_uuid()::text UNIQUE, -- the AuditEvent id
  recorded    timestamptz NOT NULL,
  patient_id  text,                                -- whose data; NULL only for migrated events about nobody
  actor       text,                                -- Patient/… | RelatedPerson/… | Practitioner/…; NULL = a system
  relation    text        NOT NULL CHECK (relation IN ('self', 'proxy', 'parent', 'clinician', 'system')),
  level       text,                                -- the proxy level (standard | read | communicate | full)
  client_id   text,
  client_name text,                                -- the app's registered name at the time
  event       text        NOT NULL DEFAULT 'rest', -- AuditEvent.type: 'rest', or `system|code` of another event type
  interaction text        NOT NULL,                -- read | vread | search | history | create | update | patch | delete
                                                   -- | operation | batch | transaction, or `system|code` of a subtype
  action      text        NOT NULL CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
  shown       text[]      NOT NULL DEFAULT '{}',   -- references of what the response showed or the write touched
  query       text,                                -- search query / operation as asked
  outcome     text        NOT NULL DEFAULT '0' CHECK (outcome IN ('0', '4', '8', '12')),
  grant_ref   text,                                -- the Consent a proxy acted through
  detail      text                                 -- AuditEvent.outcomeDesc
);
CREATE INDEX access_log_patient ON access_log (patient_id, recorded, seq);
CREATE INDEX access_log_recorded ON access_log (recorded, seq);
CREATE INDEX access_log_actor ON access_log (actor, recorded);
CREATE INDEX access_log_shown ON access_log USING gin (shown);

-- Existing AuditEvents move over: one row per patient whose compartment held the event.
INSERT INTO access_log (id, recorded, patient_id, actor, relation, level, client_id, client_name, event, interaction, action, shown, query, outcome, grant_ref, detail)
SELECT
  CASE WHEN cardinality(r.compartments) > 1 THEN r.id || '-' || p.pid ELSE r.id END,
  COALESCE((r.content ->> 'recorded')::timestamptz, r.last_updated),
  p.pid,
  a.actor,
  CASE
    WHEN a.actor = 'Patient/' || p.pid THEN 'self'
    WHEN a.actor LIKE 'RelatedPerson/%' AND a.grant_ref IS NOT NULL THEN 'proxy'
    WHEN a.actor LIKE 'RelatedPerson/%' THEN 'parent'
    WHEN a.actor LIKE 'Practitioner%' THEN 'clinician'
    WHEN a.actor LIKE 'Patient/%' THEN 'proxy'
    ELSE 'system'
  END,
  (SELECT x ->> 'code' FROM resources g, jsonb_array_elements(g.content -> 'policyRule' -> 'coding') x
    WHERE g.resource_type = 'Consent' AND 'Consent/' || g.id = a.grant_ref AND x ->> 'system' = 'https://fhir.helsebro.no/CodeSystem/proxy-level' LIMIT 1),
  c.client_id,
  COALESCE((SELECT ac.client_name FROM auth_clients ac WHERE ac.client_id = c.client_id), c.client_display),
  CASE WHEN r.content -> 'type' ->> 'code' = 'rest' OR r.content -> 'type' IS NULL THEN 'rest'
       ELSE COALESCE(r.content -> 'type' ->> 'system', '') || '|' || COALESCE(r.content -> 'type' ->> 'code', '') END,
  CASE
    WHEN r.content -> 'subtype' -> 0 ->> 'system' IS DISTINCT FROM 'http://hl7.org/fhir/restful-interaction' AND r.content -> 'subtype' -> 0 IS NOT NULL
      THEN COALESCE(r.content -> 'subtype' -> 0 ->> 'system', '') || '|' || COALESCE(r.content -> 'subtype' -> 0 ->> 'code', '')
    WHEN r.content -> 'subtype' -> 0 ->> 'code' IN ('search-type', 'search-system', 'search-compartment') THEN 'search'
    WHEN r.content -> 'subtype' -> 0 ->> 'code' IN ('history-instance', 'history-type', 'history-system') THEN 'history'
    ELSE COALESCE(r.content -> 'subtype' -> 0 ->> 'code', 'operation')
  END,
  COALESCE(NULLIF(r.content ->> 'action', ''), 'E'),
  ARRAY(SELECT e -> 'what' ->> 'reference' FROM jsonb_array_elements(COALESCE(r.content -> 'entity', '[]')) e
        WHERE e -> 'what' ->> 'reference' IS NOT NULL AND e -> 'what' ->> 'reference' IS DISTINCT FROM 'Patient/' || p.pid),
  (SELECT convert_from(decode(e ->> 'query', 'base64'), 'UTF8') FROM jsonb_array_elements(COALESCE(r.content -> 'entity', '[]')) e WHERE e ? 'query' LIMIT 1),
  COALESCE(NULLIF(r.content ->> 'outcome', ''), '0'),
  a.grant_ref,
  r.content ->> 'outcomeDesc'
FROM resources r
CROSS JOIN LATERAL unnest(CASE WHEN cardinality(r.compartments) = 0 THEN ARRAY[NULL::text] ELSE r.compartments END) AS p(pid)
LEFT JOIN LATERAL (
  SELECT ag -> 'who' ->> 'reference' AS actor, ag -> 'policy' ->> 0 AS grant_ref
  FROM jsonb_array_elements(COALESCE(r.content -> 'agent', '[]')) ag WHERE (ag ->> 'requestor')::boolean IS TRUE LIMIT 1
) a ON true
LEFT JOIN LATERAL (
  SELECT ag -> 'who' -> 'identifier' ->> 'value' AS client_id, ag -> 'who' ->> 'display' AS client_display
  FROM jsonb_array_elements(COALESCE(r.content -> 'agent', '[]')) ag
  WHERE ag -> 'who' -> 'identifier' ->> 'system' = 'https://fhir.helsebro.no/sid/client-id' LIMIT 1
) c ON true
WHERE r.resource_type = 'AuditEvent' AND NOT r.deleted
ORDER BY COALESCE((r.content ->> 'recorded')::timestamptz, r.last_updated), r.seq;

-- … and leave the resource tables.
DELETE FROM sp_token WHERE resource_type = 'AuditEvent';
DELETE FROM sp_string WHERE resource_type = 'AuditEvent';
DELETE FROM sp_reference WHERE resource_type = 'AuditEvent';
DELETE FROM sp_date WHERE resource_type = 'AuditEvent';
DELETE FROM sp_number WHERE resource_type = 'AuditEvent';
DELETE FROM sp_quantity WHERE resource_type = 'AuditEvent';
DELETE FROM sp_uri WHERE resource_type = 'AuditEvent';
DELETE FROM resource_history WHERE resource_type = 'AuditEvent';
DELETE FROM resources WHERE resource_type = 'AuditEvent';

-- Append-only at the database, whoever connects (works on PGlite too). On PostgreSQL also give the
-- application role INSERT and SELECT only (README "The access log"):
--   REVOKE UPDATE, DELETE, TRUNCATE ON access_log FROM helsebro_app;
--   GRANT INSERT, SELECT ON access_log TO helsebro_app;
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'access_log is append-only: % is refused (S23)', TG_OP USING ERRCODE = '42501';
END;
$$;
CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log
  FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
