/**
 * Data step of migration 006 (per-version index rows, access-spec §5.1). Before 006 only the current
 * version of a resource had index rows and no version knew its compartments, so the history of an
 * existing database could not be judged per version. This extracts, once, the index rows and the
 * compartments of every stored version that is not current, in batches (keyset over seq) so memory
 * stays bounded however long the history is. A fresh database has nothing to do here.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { patientCompartmentsOf } from './compartments.js';
import { writeSearchIndex } from './index-writer.js';

const BATCH = 500;

export async function backfillVersionIndex(tx: Queryable): Promise<{ versions: number }> {
  let after = 0;
  let versions = 0;
  for (;;) {
    // Content versions that are not the current version of their resource had their index rows
    // deleted (or never got any); the current versions were given theirs by 006's SQL.
    const rows = await tx.query<{ seq: number | string; content: Resource | string }>(
      `SELECT h.seq, h.content FROM resource_history h
        WHERE h.seq > $1 AND NOT h.deleted AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.seq = h.seq)
        ORDER BY h.seq LIMIT ${BATCH}`,
      [after],
    );
    if (rows.length === 0) break;
    const list = rows.map((r) => ({ seq: Number(r.seq), resource: (typeof r.content === 'string' ? JSON.parse(r.content) : r.content) as Resource }));
    await writeSearchIndex(tx, list);
    await tx.query(
      'UPDATE resource_history h SET compartments = c.comp FROM jsonb_to_recordset($1::jsonb) AS c(seq bigint, comp text[]) WHERE h.seq = c.seq',
      [JSON.stringify(list.map((v) => ({ seq: v.seq, comp: patientCompartmentsOf(v.resource) })))],
    );
    versions += list.length;
    after = list[list.length - 1]!.seq;
  }
  // A tombstone is in the compartments of the version it deleted.
  await tx.query('UPDATE resource_history t SET compartments = p.compartments FROM resource_history p WHERE t.deleted AND p.seq = t.access_seq');
  await tx.query('ALTER TABLE resource_history ALTER COLUMN access_seq SET NOT NULL');
  return { versions };
}
