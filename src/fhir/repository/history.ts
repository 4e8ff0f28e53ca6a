/**
 * History (instance, type, system) with `_since`, `_at`-free keyset paging over the global history
 * sequence, so pages stay stable while new versions are written. Visibility follows the resource's
 * current version under the request's access filters.
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { badRequest, notFound } from '../errors.js';
import { compileAccessPredicate } from '../search/access-sql.js';
import { isoTime, resourceFromRow, type ResourceRow } from './rows.js';

export interface HistoryRequest {
  resourceType?: string;
  id?: string;
  since?: string;
  count: number;
  /** Keyset cursor: only versions with a smaller sequence number (older). */
  before?: number;
  fhirBase: string;
  /** Path relative to the base that produced this page, e.g. `Patient/1/_history`. */
  path: string;
}

export async function readHistory(q: Queryable, access: AccessContext, req: HistoryRequest): Promise<Bundle> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (req.resourceType) {
    params.push(req.resourceType);
    where.push(`h.resource_type = $${params.length}`);
  }
  if (req.id) {
    params.push(req.id);
    where.push(`h.id = $${params.length}`);
  }
  if (req.since) {
    const since = Date.parse(req.since);
    if (Number.isNaN(since)) throw badRequest(`_since must be an instant, got "${req.since}"`, '_since');
    params.push(new Date(since).toISOString());
    where.push(`h.last_updated >= $${params.length}`);
  }
  if (req.before !== undefined) {
    params.push(req.before);
    where.push(`h.seq < $${params.length}`);
  }
  // Visibility is decided per resource type by the access filters applied to the current row.
  const predicate = compileAccessPredicate(req.resourceType ?? '*', access.filters, 'r', params);
  where.push(`(${predicate})`);
  params.push(req.count + 1);
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.content, h.seq, h.method
       FROM resource_history h JOIN resources r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE ${where.join(' AND ')}
      ORDER BY h.seq DESC LIMIT $${params.length}`,
    params,
  );
  if (req.id && rows.length === 0 && req.before === undefined) throw notFound(`${req.resourceType}/${req.id} is not known`);
  const page = rows.slice(0, req.count);
  const self = `${req.fhirBase}/${req.path}`;
  const query = (extra: Record<string, string>) => {
    const sp = new URLSearchParams({ ...(req.since ? { _since: req.since } : {}), _count: String(req.count), ...extra });
    return `${self}?${sp.toString()}`;
  };
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    link: [{ relation: 'self', url: query(req.before !== undefined ? { _before: String(req.before) } : {}) }],
    entry: page.map((row) => historyEntry(row, req.fhirBase)),
  };
  if (rows.length > req.count) bundle.link!.push({ relation: 'next', url: query({ _before: String(page[page.length - 1]!.seq) }) });
  if (req.before === undefined) bundle.total = undefined;
  return bundle;
}

function historyEntry(row: ResourceRow, fhirBase: string): BundleEntry {
  const fullUrl = `${fhirBase}/${row.resource_type}/${row.id}`;
  const method = (row.method ?? 'PUT') as 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  const entry: BundleEntry = {
    fullUrl,
    request: { method: method === 'PATCH' ? 'PATCH' : method, url: method === 'POST' ? row.resource_type : `${row.resource_type}/${row.id}` },
    response: {
      status: row.deleted ? '204' : method === 'POST' ? '201' : '200',
      etag: `W/"${row.version_id}"`,
      lastModified: isoTime(row.last_updated),
    },
  };
  if (!row.deleted) entry.resource = resourceFromRow<Resource>(row);
  return entry;
}
