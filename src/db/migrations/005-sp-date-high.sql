-- Date ranges are compared on both ends: `lt`/`le` bound the start (sp_date_low), `gt`/`ge` bound
-- the end. Without an index on the end, `date=ge<last week>` scans every date row of the parameter
-- from the beginning of time (docs/bench.md, "date range, latest days").
CREATE INDEX sp_date_high ON sp_date (resource_type, code, high);
