-- Date windows without a cliff (issue 11 §6, docs/search.md "Date ranges"). A window
-- `date=ge<A>&date=lt<B>` bounds a row's start from above (low < B) and its end from below (high > A);
-- neither alone is selective in the middle of the data, and no B-tree orders rows by both. But a row
-- whose span (high − low) is at most S and that ends after A starts after A − S: within one span class
-- the window is the range `low >= A − S AND low < B` of an index on (…, span_class, low), which reads
-- about the rows it returns. src/fhir/search/date-window.ts compiles the window per class.
--
-- Classes (the spans the search compiler assumes, DATE_SPAN_CLASSES there): 0 = at most one day
-- (instants, dateTimes, dates), 1 = at most 31 days (months), 2 = at most 366 days (years), 3 = the
-- rest: longer or open-ended Periods (±infinity) and inverted ones (end before start), searched by
-- their start alone. A STORED generated column: every writer gets it without code, on PostgreSQL 15
-- and PGlite alike. Spans are compared as intervals (timestamptz − timestamptz is immutable; one day is
-- exactly 24 hours there); the CASE never subtracts an infinite bound (an error before PostgreSQL 17).
ALTER TABLE sp_date ADD COLUMN span_class smallint GENERATED ALWAYS AS (
  CASE
    WHEN NOT isfinite(low) OR NOT isfinite(high) OR high < low THEN 3
    WHEN high - low <= interval '1 day' THEN 0
    WHEN high - low <= interval '31 days' THEN 1
    WHEN high - low <= interval '366 days' THEN 2
    ELSE 3
  END
) STORED;
CREATE INDEX sp_date_window ON sp_date (resource_type, code, span_class, low, high, seq);

-- Two bounds of the same parameter are two conditions, each of which any of a version's values may
-- satisfy (search.html: repeated parameters are ANDed over the resource, not over one value); only a
-- version with more than one value of the parameter can satisfy them with different values. Those
-- versions are listed here, so a window can be one row condition for everyone else and still give the
-- same answer (date-window.ts). Filled by a trigger, whoever writes index rows; rows are per version
-- and never rewritten (006), so the list only grows.
CREATE TABLE sp_date_multi (
  resource_type text NOT NULL, code text NOT NULL, seq bigint NOT NULL,
  PRIMARY KEY (resource_type, code, seq)
);
INSERT INTO sp_date_multi (resource_type, code, seq)
  SELECT resource_type, code, seq FROM sp_date GROUP BY resource_type, code, seq HAVING count(*) > 1;

-- Counted among the statement's new rows: all index rows of a version are written by one statement
-- (index-writer.ts, bulk-insert.ts; rows are never added to a stored version), and counting them in the
-- table as well cost a probe per version (~0.3 ms each on the loaded machine, as much as the insert).
CREATE FUNCTION sp_date_note_multi() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sp_date_multi (resource_type, code, seq)
    SELECT n.resource_type, n.code, n.seq FROM sp_date_new n
     GROUP BY n.resource_type, n.code, n.seq HAVING count(*) > 1
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END;
$$;
CREATE TRIGGER sp_date_multi_values AFTER INSERT ON sp_date REFERENCING NEW TABLE AS sp_date_new
  FOR EACH STATEMENT EXECUTE FUNCTION sp_date_note_multi();
