/**
 * Stores first versions (creates with server-assigned ids) in ONE statement however many there are:
 * the current rows, their history rows and every search index row, with history sequence numbers
 * drawn in the order given (issue 11 §4). Values travel as one JSON document and as column arrays
 * (`unnest`), so the statement's bind parameters stay a few dozen, far below PostgreSQL's 65,535.
 * Two round trips: the sequence numbers, then every row (one for a single resource: insertOne).
 * Callers have validated, access-checked and run the write rules on each resource already.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { patientCompartmentsOf } from '../search/compartments.js';
import { storedIndexRows } from '../search/extract.js';
import { indexInsertCtes } from '../search/index-writer.js';

export interface NewVersion {
  /** Server meta stamped: `id`, `meta.versionId` 1 and `meta.lastUpdated`. */
  resource: Resource;
  /** The HTTP method recorded in history (POST, or PUT for a server-generated resource). */
  method: string;
}

export async function insertFirstVersions(tx: Queryable, list: readonly NewVersion[]): Promise<void> {
  if (list.length === 0) return;
  if (list.length === 1) return insertOne(tx, list[0]!);
  // Sequence numbers first, in the order given; then everything else in one statement without joins.
  const drawn = await tx.query<{ seq: number | string }>("SELECT nextval('history_seq') AS seq FROM generate_series(1, $1::int4)", [list.length]);
  const seqs = drawn.map((r) => Number(r.seq)).sort((a, b) => a - b);
  const rows = list.map((v, i) => ({
    rt: v.resource.resourceType,
    id: v.resource.id,
    lu: v.resource.meta!.lastUpdated,
    content: v.resource,
    comp: patientCompartmentsOf(v.resource),
    method: v.method,
    seq: seqs[i],
  }));
  const params: unknown[] = [JSON.stringify(rows)];
  const index = indexInsertCtes(list.map((v, i) => ({ type: v.resource.resourceType, id: v.resource.id!, seq: seqs[i]!, rows: storedIndexRows(v.resource) })), params);
  await tx.query(
    `WITH d AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(rt text, id text, lu timestamptz, content jsonb, comp text[], method text, seq int8)),
      r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
        SELECT rt, id, 1, lu, false, content, comp, seq FROM d)${index.length > 0 ? `, ${index.join(', ')}` : ''}
     INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT seq, rt, id, 1, lu, false, method, content, comp, seq FROM d`,
    params,
  );
}

/**
 * A single create (`POST [type]`, the most common write) in one round trip: the statement draws its
 * own sequence number in a one-row CTE that every insert reads, so no join needs a size estimate.
 */
async function insertOne(tx: Queryable, v: NewVersion): Promise<void> {
  const r = v.resource;
  const params: unknown[] = [r.resourceType, r.id, r.meta!.lastUpdated, r, patientCompartmentsOf(r), v.method];
  const index = indexInsertCtes([{ type: r.resourceType, id: r.id!, seq: 0, rows: storedIndexRows(r) }], params, '(SELECT seq FROM s)');
  await tx.query(
    `WITH s AS MATERIALIZED (SELECT nextval('history_seq') AS seq),
      r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
        SELECT $1::text, $2::text, 1, $3::timestamptz, false, $4::jsonb, $5::text[], seq FROM s)${index.length > 0 ? `, ${index.join(', ')}` : ''}
     INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT seq, $1::text, $2::text, 1, $3::timestamptz, false, $6::text, $4::jsonb, $5::text[], seq FROM s`,
    params,
  );
}
