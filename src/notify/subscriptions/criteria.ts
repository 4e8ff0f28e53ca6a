/** `Subscription.criteria` (R4: a search URL such as `Observation?patient=Patient/123`), taken apart. */
import { isResourceType } from '../../fhir/definitions/registry.js';

export interface Criteria {
  type: string;
  /** The query after `?`, possibly empty (every resource of the type). */
  query: string;
}

export function parseCriteria(criteria: string | undefined): Criteria | null {
  const m = /^([A-Z][A-Za-z]{1,63})(?:\?(.*))?$/s.exec(criteria ?? '');
  if (!m || !isResourceType(m[1]!)) return null;
  return { type: m[1]!, query: m[2] ?? '' };
}

/** The criteria narrowed to one resource, as a query the search engine evaluates. */
export function queryForOne(c: Criteria, id: string): string {
  return c.query ? `${c.query}&_id=${encodeURIComponent(id)}` : `_id=${encodeURIComponent(id)}`;
}
