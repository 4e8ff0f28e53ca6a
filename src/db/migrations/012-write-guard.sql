-- The guard of a write committed by one statement of its own, without BEGIN/COMMIT (issue 11 "create",
-- src/fhir/repository/unit-of-work.ts): the statement asks in its last SELECT whether what it assumed
-- still holds (e.g. no active Subscription watches the resource type). If not, this refuses the
-- statement as a whole — nothing of it is stored — with SQLSTATE HB001, and the repository writes the
-- same resources again in a transaction that does the work the assumption skipped.
CREATE FUNCTION write_guard(holds boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF holds IS NOT TRUE THEN
    RAISE EXCEPTION 'write guard: the write is retried in a transaction' USING ERRCODE = 'HB001';
  END IF;
  RETURN true;
END;
$$;
