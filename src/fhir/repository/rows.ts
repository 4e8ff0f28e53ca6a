/** Row shapes of the resources tables and their conversion to FHIR resources. */
import type { Resource } from 'fhir/r4';

export interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string | Date;
  deleted: boolean;
  content: Resource | null;
  compartments?: string[];
  seq: number | string;
  method?: string;
}

/** PostgreSQL's text for a timestamptz in a UTC session, e.g. `2026-12-03 18:00:00.123456+00`. */
const PG_UTC = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

export function isoTime(value: string | Date): string {
  // Rewritten rather than parsed into a Date (issue 11: a search page formats twenty of these, and
  // Date's parser was a visible share of it); the result is what toISOString gives (milliseconds
  // truncated). Any other form goes through Date.
  const m = typeof value === 'string' ? PG_UTC.exec(value) : null;
  if (m) return `${m[1]}T${m[2]}.${m[3] === undefined ? '000' : (m[3] + '00').slice(0, 3)}Z`;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** The stored resource with server-owned meta (versionId, lastUpdated) always from the row. */
export function resourceFromRow<T extends Resource = Resource>(row: ResourceRow): T {
  const content = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as T;
  return withServerMeta(content, Number(row.version_id), isoTime(row.last_updated));
}

export function withServerMeta<T extends Resource>(resource: T, versionId: number, lastUpdated: string): T {
  return { ...resource, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated } };
}

export const RESOURCE_COLUMNS = 'r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, r.seq';
