/**
 * Stores first versions (creates with server-assigned ids) in ONE statement however many there are:
 * the current rows, their history rows and every search index row, with history sequence numbers
 * drawn in the order given (issue 11 §4). Values travel as one JSON document and as column arrays
 * (`unnest`), so the statement's bind parameters stay a few dozen, far below PostgreSQL's 65,535.
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
  const rows = list.map((v, ord) => ({
    ord,
    rt: v.resource.resourceType,
    id: v.resource.id,
    lu: v.resource.meta!.lastUpdated,
    content: v.resource,
    comp: patientCompartmentsOf(v.resource),
    method: v.method,
  }));
  const params: unknown[] = [JSON.stringify(rows)];
  const index = indexInsertCtes(list.map((v, ord) => ({ ord, rows: extractIndexRows(v.resource) })), 'd', params);
  // `d` is read by several CTEs, so it is evaluated once: one nextval per row, in array order.
  await tx.query(
    `WITH d AS MATERIALIZED (SELECT x.ord, x.rt, x.id, x.lu, x.content, x.comp, x.method, nextval('history_seq') AS seq
        FROM jsonb_to_recordset($1::jsonb) AS x(ord int4, rt text, id text, lu timestamptz, content jsonb, comp text[], method text)),
      r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
        SELECT rt, id, 1, lu, false, content, comp, seq FROM d),
      h AS (INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT seq, rt, id, 1, lu, false, method, content, comp, seq FROM d)${index.length > 0 ? `, ${index.join(', ')}` : ''}
     SELECT 1`,
    params,
  );
}
