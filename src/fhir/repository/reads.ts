/**
 * Reads by id of current rows, each one statement with the request's compiled access predicate
 * (visibleVersionsFrom, history.ts): a hidden resource is indistinguishable from a missing one. The
 * Repository's read methods check the type and call these.
 */
import type { Resource } from 'fhir/r4';
import type { AccessContext, LivenessGuard } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { gone, notFound } from '../errors.js';
import { visibleVersionsFrom } from './history.js';
import { RESOURCE_COLUMNS, resourceFromRow, type ResourceRow } from './rows.js';
import { StoredResource, storedColumns, type StoredRow } from './stored.js';

/** A FHIR id (R4 datatypes.html#id); anything else is unknown without asking the database. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * The current row (deleted or not) if it exists and the access context may see it. Judged on the
 * current version, or for a deleted resource on the version that was deleted (access-spec §5.1):
 * a deleted resource the caller could never see is as unknown as an id that never existed.
 */
export async function visibleRow(q: Queryable, type: string, id: string, access: AccessContext): Promise<ResourceRow | undefined> {
  if (!ID_PATTERN.test(id)) return undefined;
  const params: unknown[] = [type, id];
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT ${RESOURCE_COLUMNS} FROM resources r JOIN ${visibleVersionsFrom(type, access, params)} ON h.seq = r.seq
      WHERE r.resource_type = $1 AND r.id = $2`,
    params,
  );
  return rows[0];
}

/**
 * Many reads of one type in one statement (a transaction's matched conditional creates: a re-push
 * of 1,000 samples matched 1,000 Observations and read them one statement each). Same visibility
 * as a read; ids that are unknown, hidden or deleted are absent from the answer.
 */
export async function readMany<T extends Resource = Resource>(q: Queryable, type: string, ids: readonly string[], access: AccessContext): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  const wanted = [...new Set(ids)].filter((id) => ID_PATTERN.test(id));
  if (wanted.length === 0) return found;
  const params: unknown[] = [type, wanted];
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT ${RESOURCE_COLUMNS} FROM resources r JOIN ${visibleVersionsFrom(type, access, params)} ON h.seq = r.seq
      WHERE r.resource_type = $1 AND r.id = ANY($2::text[])`,
    params,
  );
  for (const row of rows) if (!row.deleted) found.set(row.id, resourceFromRow<T>(row));
  return found;
}

/**
 * A read answered with the stored text (stored.ts): the same visibility and errors as a read. When
 * the context carries the grant check (access-context.ts `liveness`), the one statement also answers
 * "is the token's grant still live, under which access version?", and the row is read only under
 * the version the context was decided for; the guard then confirms, refuses, or hands a context
 * decided afresh to read under.
 */
export async function readStored(q: Queryable, type: string, id: string, access: AccessContext): Promise<StoredResource> {
  const guard = access.liveness;
  const params: unknown[] = [type, id];
  let row: StoredRow | undefined;
  if (!ID_PATTERN.test(id)) {
    if (guard) await settleLiveness(q, guard);
  } else {
    // The same text for every read of a type by the same kind of token (access-sql.ts caches it): planned once per connection.
    const read = `SELECT ${storedColumns('r')} FROM resources r JOIN ${visibleVersionsFrom(type, access, params)} ON h.seq = r.seq WHERE r.resource_type = $1 AND r.id = $2`;
    if (guard) {
      const live = guard.sql(params);
      params.push(guard.version);
      const rows = await q.query<StoredRow & { access_version: number | string | null } & Record<string, unknown>>(
        // OFFSET 0 keeps `live` a subquery of its own: flattened, its grant check was copied into both
        // places that name it and ran twice per read (EXPLAIN ANALYZE, bench/read-cost.ts BENCH_EXPLAIN=1).
        `SELECT x.*, live.access_version FROM (SELECT ${live} AS access_version OFFSET 0) live LEFT JOIN (${read}) x ON live.access_version = $${params.length}`,
        params,
        { prepare: true },
      );
      const version = rows[0]?.access_version;
      const decided = await guard.settle(version === null || version === undefined ? null : Number(version));
      if (decided) return readStored(q, type, id, decided);
      row = rows[0]?.id === null ? undefined : rows[0];
    } else {
      row = (await q.query<StoredRow & Record<string, unknown>>(read, params, { prepare: true }))[0];
    }
  }
  if (!row) throw notFound(`${type}/${id} is not known`);
  if (row.deleted) throw gone(`${type}/${id} was deleted`);
  return new StoredResource(row);
}

/**
 * The grant check alone, for a request that needs no row (an id that cannot exist, a search refused
 * before its statement): throws 401 when the grant has ended; resolves to a context decided afresh
 * when an access fact changed, null when the guarded one stands.
 */
export async function settleLiveness(q: Queryable, guard: LivenessGuard): Promise<AccessContext | null> {
  const params: unknown[] = [];
  const rows = await q.query<{ access_version: number | string | null }>(`SELECT ${guard.sql(params)} AS access_version`, params);
  const version = rows[0]?.access_version;
  return guard.settle(version === null || version === undefined ? null : Number(version));
}
