/**
 * Stores first versions (creates with server-assigned ids) in ONE statement however many there are:
 * the current rows, their history rows and every search index row, with history sequence numbers
 * drawn in the order given (issue 11 §4). Values travel as one JSON document and as column arrays
 * (`unnest`), so the statement's bind parameters stay a few dozen, far below PostgreSQL's 65,535.
 * Two round trips: the sequence numbers, then every row.
 * Callers have validated, access-checked and run the write rules on each resource already.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { patientCompartmentsOf } from '../search/compartments.js';
import { extractIndexRows } from '../search/extract.js';
import { indexInsertCtes } from '../search/index-writer.js';

export interface NewVersion {
  /** Server meta stamped: `id`, `meta.versionId` 1 and `meta.lastUpdated`. */
  resource: Resource;
  /** The HTTP method recorded in history (POST, or PUT for a server-generated resource). */
  method: string;
}

export async function insertFirstVersions(tx: Queryable, list: readonly NewVersion[]): Promise<void> {
  if (list.length === 0) return;
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
  const index = indexInsertCtes(list.map((v, i) => ({ type: v.resource.resourceType, id: v.resource.id!, seq: seqs[i]!, rows: extractIndexRows(v.resource) })), params);
  await tx.query(
    `WITH d AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(rt text, id text, lu timestamptz, content jsonb, comp text[], method text, seq int8)),
      r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
        SELECT rt, id, 1, lu, false, content, comp, seq FROM d)${index.length > 0 ? `, ${index.join(', ')}` : ''}
     INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT seq, rt, id, 1, lu, false, method, content, comp, seq FROM d`,
    params,
  );
}
