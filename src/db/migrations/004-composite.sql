-- Composite search parameters (Observation code-value-quantity, component-code-value-quantity, …).
-- Each component of a composite is indexed as an ordinary row of its own type's table, under the
-- code `<composite>$<component index>`, and tagged with the ordinal of the element it came from
-- (each Observation.component, each useContext, …). A composite matches when all its components
-- match rows with the same element ordinal, so "systolic > 140" cannot be satisfied by the systolic
-- code of one component and the value of another. Ordinary (non-composite) rows keep element NULL.
-- See: https://hl7.org/fhir/R4/search.html#composite and docs/search.md.
ALTER TABLE sp_token ADD COLUMN element integer;
ALTER TABLE sp_string ADD COLUMN element integer;
ALTER TABLE sp_reference ADD COLUMN element integer;
ALTER TABLE sp_date ADD COLUMN element integer;
ALTER TABLE sp_number ADD COLUMN element integer;
ALTER TABLE sp_quantity ADD COLUMN element integer;
ALTER TABLE sp_uri ADD COLUMN element integer;
