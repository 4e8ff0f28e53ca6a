-- Search index rows, one table per search-parameter type, extracted at write time from the official
-- SearchParameter FHIRPath expressions. Each index leads with (resource_type, code, value…) so a
-- parameter predicate is an index range scan, joined back to the resource by (resource_type, resource_id).
CREATE TABLE sp_token (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL,
  system text, value text, text text
);
CREATE INDEX sp_token_value ON sp_token (resource_type, code, value, system);
CREATE INDEX sp_token_res ON sp_token (resource_type, resource_id);

CREATE TABLE sp_string (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL,
  norm text NOT NULL, value text NOT NULL
);
CREATE INDEX sp_string_norm ON sp_string (resource_type, code, norm text_pattern_ops);
CREATE INDEX sp_string_res ON sp_string (resource_type, resource_id);

CREATE TABLE sp_reference (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL,
  target_type text, target_id text, url text, ident_system text, ident_value text
);
CREATE INDEX sp_reference_target ON sp_reference (resource_type, code, target_id, target_type);
CREATE INDEX sp_reference_rev ON sp_reference (target_type, target_id, resource_type, code);
CREATE INDEX sp_reference_res ON sp_reference (resource_type, resource_id);

CREATE TABLE sp_date (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL,
  low timestamptz NOT NULL, high timestamptz NOT NULL
);
CREATE INDEX sp_date_low ON sp_date (resource_type, code, low, high);
CREATE INDEX sp_date_res ON sp_date (resource_type, resource_id);

CREATE TABLE sp_number (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL, value numeric NOT NULL
);
CREATE INDEX sp_number_value ON sp_number (resource_type, code, value);
CREATE INDEX sp_number_res ON sp_number (resource_type, resource_id);

CREATE TABLE sp_quantity (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL,
  value numeric NOT NULL, system text, unit text
);
CREATE INDEX sp_quantity_value ON sp_quantity (resource_type, code, value);
CREATE INDEX sp_quantity_res ON sp_quantity (resource_type, resource_id);

CREATE TABLE sp_uri (
  resource_type text NOT NULL, resource_id text NOT NULL, code text NOT NULL, value text NOT NULL
);
CREATE INDEX sp_uri_value ON sp_uri (resource_type, code, value);
CREATE INDEX sp_uri_res ON sp_uri (resource_type, resource_id);
