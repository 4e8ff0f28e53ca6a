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

export function isoTime(value: string | Date): string {
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
