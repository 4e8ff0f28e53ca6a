/**
 * What the store holds, counted for operators (backup and restore progress, issue 17): the tables
 * belong to the repository, so the SQL naming them lives here.
 */
export interface Census {
  resources: number;
  versions: number;
  auditEvents: number;
}

export const CENSUS_SQL = `SELECT (SELECT count(*) FROM resources)::int AS resources, (SELECT count(*) FROM resource_history)::int AS versions,
  (SELECT count(*) FROM resources WHERE resource_type = 'AuditEvent')::int AS "auditEvents"`;
