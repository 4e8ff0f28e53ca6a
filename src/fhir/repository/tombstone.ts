/**
 * A deletion's writes as CTEs of the unit of work's next statement (unit-of-work.ts): the current row
 * marked deleted (no content) and the tombstone version in history, which is judged by the version it
 * deleted (`access_seq`, access-spec §5.1). A DELETE used to cost three statements of its own for this
 * (the sequence number, the UPDATE, the history INSERT); buffered, it rides in the statement that
 * stores the transaction's access log just before COMMIT (issue 11).
 */
import type { Queryable } from '../../db/db.js';

export interface Tombstone {
  type: string;
  id: string;
  /** The deletion's version id (the deleted version's plus one). */
  versionId: number;
  lastUpdated: string;
  /** History sequence number of the version being deleted. */
  deletedSeq: number;
}

/**
 * Data-modifying CTEs that store `list` (rows locked by the transaction, each resource at most once),
 * binding into `params`. `seqs`: sequence numbers drawn beforehand, when versions stored by the same
 * statement must keep their order relative to these; otherwise each row draws its own, in list order.
 */
export function tombstoneCtes(list: readonly Tombstone[], params: unknown[], seqs?: readonly number[]): string[] {
  if (list.length === 0) return [];
  const at = params.length;
  params.push(
    list.map((t) => t.type),
    list.map((t) => t.id),
    list.map((t) => t.versionId),
    list.map((t) => t.lastUpdated),
    list.map((t) => t.deletedSeq),
  );
  const [rt, id, vid, lu, prev] = [1, 2, 3, 4, 5].map((i) => `$${at + i}`);
  let seq = "nextval('history_seq')";
  let seqColumn = '';
  if (seqs) {
    params.push([...seqs]);
    seq = 'x.seq';
    seqColumn = `, $${params.length}::int8[]`;
  }
  return [
    `td AS MATERIALIZED (SELECT x.rt, x.id, x.vid, x.lu, x.prev, ${seq} AS seq
        FROM unnest(${rt}::text[], ${id}::text[], ${vid}::int4[], ${lu}::timestamptz[], ${prev}::int8[]${seqColumn}) AS x(rt, id, vid, lu, prev${seqs ? ', seq' : ''}))`,
    `tu AS (UPDATE resources t SET version_id = td.vid, last_updated = td.lu, deleted = true, content = NULL, seq = td.seq
        FROM td WHERE t.resource_type = td.rt AND t.id = td.id)`,
    `th AS (INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT td.seq, td.rt, td.id, td.vid, td.lu, true, 'DELETE', NULL, p.compartments, p.seq FROM td JOIN resource_history p ON p.seq = td.prev)`,
  ];
}

/** Stores `list` now, in one statement (a repository bound to a transaction that is not a unit of work). */
export async function storeTombstones(q: Queryable, list: readonly Tombstone[]): Promise<void> {
  if (list.length === 0) return;
  const params: unknown[] = [];
  await q.query(`WITH ${tombstoneCtes(list, params).join(', ')} SELECT 1`, params);
}
