/**
 * Versions: vread and history (instance, type, system) with `_since` and keyset paging over the
 * global history sequence, so pages stay stable while new versions are written.
 *
 * Visibility is decided per version shown (access-spec §5.1): a version is shown when the caller
 * could see it had it been current. The request's access predicate is compiled against the version
 * row `v` that decides it (`h.access_seq`: the version itself, or for a delete tombstone the version
 * it deleted), whose own index rows and compartments are kept (006-per-version-index.sql). So a
 * personal note stays hidden from clinicians after deletion, a held result deleted before release
 * stays hidden from the patient side, and the held versions of a released result are not shown.
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { badRequest, gone, notFound } from '../errors.js';
import { compileAccessPredicate } from '../search/access-sql.js';
import { isoTime, resourceFromRow, type ResourceRow } from './rows.js';
import { StoredResource, storedColumns, type StoredRow } from './stored.js';

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

/**
 * `resource_history h` joined to the version `v` that decides its visibility, with the access
 * predicate on `v`; '*' means every type (system history). Binds into `params`.
 */
export function visibleVersionsFrom(resourceType: string, access: AccessContext, params: unknown[]): string {
  const predicate = compileAccessPredicate(resourceType, access.filters, 'v', params);
  return `(resource_history h JOIN resource_history v ON v.seq = h.access_seq AND (${predicate}))`;
}

const HISTORY_COLUMNS = 'h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.content, h.seq, h.method';

/** vread: 404 for a version the caller may not see, worded as for a missing id when no version is visible. */
export async function readVersion<T extends Resource>(q: Queryable, type: string, id: string, versionId: string, access: AccessContext): Promise<T> {
  if (/^\d{1,9}$/.test(versionId)) {
    const params: unknown[] = [type, id, Number(versionId)];
    const rows = await q.query<ResourceRow & Record<string, unknown>>(
      `SELECT ${HISTORY_COLUMNS} FROM ${visibleVersionsFrom(type, access, params)} WHERE h.resource_type = $1 AND h.id = $2 AND h.version_id = $3`,
      params,
    );
    const row = rows[0];
    if (row?.deleted) throw gone(`${type}/${id} version ${versionId} is a deletion`);
    if (row) return resourceFromRow<T>(row);
  }
  const params: unknown[] = [type, id];
  const any = await q.query(`SELECT 1 FROM ${visibleVersionsFrom(type, access, params)} WHERE h.resource_type = $1 AND h.id = $2 LIMIT 1`, params);
  if (any.length === 0) throw notFound(`${type}/${id} is not known`);
  throw notFound(`${type}/${id} has no version ${versionId}`);
}

/** `readVersion` answered with the stored text (stored.ts): the same visibility and errors. */
export async function readVersionStored(q: Queryable, type: string, id: string, versionId: string, access: AccessContext): Promise<StoredResource> {
  if (/^\d{1,9}$/.test(versionId)) {
    const params: unknown[] = [type, id, Number(versionId)];
    const rows = await q.query<StoredRow & Record<string, unknown>>(
      `SELECT ${storedColumns('h')} FROM ${visibleVersionsFrom(type, access, params)} WHERE h.resource_type = $1 AND h.id = $2 AND h.version_id = $3`,
      params,
    );
    const row = rows[0];
    if (row?.deleted) throw gone(`${type}/${id} version ${versionId} is a deletion`);
    if (row) return new StoredResource(row);
  }
  // Not visible or no such version: the same answers as readVersion.
  return readVersion(q, type, id, versionId, access).then(() => {
    throw notFound(`${type}/${id} has no version ${versionId}`);
  });
}

/**
 * `_count` and `_before` of a history request. `_count=0` asks for no entries (FHIR search rules:
 * a page of zero, so a valid empty Bundle, never an error); `_before` is a history sequence number,
 * so anything but a plain integer in bigint range is a 400 naming it.
 */
export function parseHistoryPaging(count: unknown, before: unknown, defaultCount: number, maxCount: number): { count: number; before?: number } {
  const one = (v: unknown) => (Array.isArray(v) ? v[v.length - 1] : v) as unknown;
  const c = one(count);
  const b = one(before);
  if (c !== undefined && (typeof c !== 'string' || !/^\d{1,12}$/.test(c))) throw badRequest(`_count must be a non-negative integer, got "${String(c)}"`, '_count');
  if (b !== undefined && (typeof b !== 'string' || !/^\d{1,15}$/.test(b))) throw badRequest(`_before must be a history cursor (a non-negative integer below 10^15), got "${String(b)}"`, '_before');
  return { count: c === undefined ? defaultCount : Math.min(Number(c), maxCount), ...(b !== undefined ? { before: Number(b) } : {}) };
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
    // PostgreSQL's timestamptz starts at 4713 BC; keep to years a history can hold.
    if (Number.isNaN(since) || since < Date.UTC(1, 0, 1) || since > Date.UTC(9999, 11, 31)) throw badRequest(`_since must be an instant between years 1 and 9999, got "${req.since}"`, '_since');
    params.push(new Date(since).toISOString());
    where.push(`h.last_updated >= $${params.length}`);
  }
  if (req.before !== undefined) {
    params.push(req.before);
    where.push(`h.seq < $${params.length}`);
  }
  const from = visibleVersionsFrom(req.resourceType ?? '*', access, params);
  // One more than the page tells whether a next page exists; _count=0 still reads one row, so an
  // instance history of an id the caller cannot see is 404 however it is asked.
  params.push(Math.max(req.count, 1) + (req.count > 0 ? 1 : 0));
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT ${HISTORY_COLUMNS} FROM ${from}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
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
  if (req.count > 0 && rows.length > req.count) bundle.link!.push({ relation: 'next', url: query({ _before: String(page[page.length - 1]!.seq) }) });
  if (bundle.entry!.length === 0) delete bundle.entry;
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
