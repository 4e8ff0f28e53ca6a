-- Per-subject access versions (issue 11 §2 "one round trip to authenticate and authorise").
-- The relation facts behind a token (the Patient's death, deactivation and birth date, the proxy's
-- RelatedPerson and grant Consent, the parents' register rows, the terms acceptance; a clinician's
-- Practitioner) are resolved once and cached in each server process. Every write of a resource those
-- facts come from bumps the version of the subject it concerns *in the same transaction*, here at the
-- database so no write path (REST, transaction Bundles, bulk writes, bridges, restore) can forget it.
-- The resource server reads the version in the same statement as the live grant, so a cached entry is
-- used only while nothing that matters has changed, in every process (access-spec §4.2: gates act on
-- the next request).
CREATE TABLE access_versions (
  subject text   PRIMARY KEY,   -- 'Patient/<id>' (the patient's relation facts) | 'Practitioner/<id>' (a clinician)
  version bigint NOT NULL
);

-- The subject whose access facts a stored resource is part of; NULL for every other resource.
CREATE FUNCTION access_subject(rtype text, rid text, content jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE rtype
    WHEN 'Patient' THEN 'Patient/' || rid
    WHEN 'Practitioner' THEN 'Practitioner/' || rid
    -- A RelatedPerson (proxy, parent) and a Consent (proxy grant, terms acceptance) belong to their patient.
    ELSE 'Patient/' || substring(content -> 'patient' ->> 'reference' FROM 'Patient/([^/]+)')
  END
$$;

CREATE FUNCTION bump_access_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  subjects text[] := '{}';
BEGIN
  IF TG_OP <> 'INSERT' THEN subjects := subjects || access_subject(OLD.resource_type, OLD.id, OLD.content); END IF;
  IF TG_OP <> 'DELETE' THEN subjects := subjects || access_subject(NEW.resource_type, NEW.id, NEW.content); END IF;
  INSERT INTO access_versions (subject, version)
    SELECT DISTINCT s, 1 FROM unnest(subjects) AS s WHERE s IS NOT NULL
    ON CONFLICT (subject) DO UPDATE SET version = access_versions.version + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER resources_access_version_ins AFTER INSERT ON resources FOR EACH ROW
  WHEN (NEW.resource_type IN ('Patient', 'Practitioner', 'RelatedPerson', 'Consent')) EXECUTE FUNCTION bump_access_version();
CREATE TRIGGER resources_access_version_upd AFTER UPDATE ON resources FOR EACH ROW
  WHEN (NEW.resource_type IN ('Patient', 'Practitioner', 'RelatedPerson', 'Consent')) EXECUTE FUNCTION bump_access_version();
CREATE TRIGGER resources_access_version_del AFTER DELETE ON resources FOR EACH ROW
  WHEN (OLD.resource_type IN ('Patient', 'Practitioner', 'RelatedPerson', 'Consent')) EXECUTE FUNCTION bump_access_version();
