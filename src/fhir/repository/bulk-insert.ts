/**
 * Stores versions — creates (first versions) and updates (next versions of resources whose current
 * row the transaction has locked) — in ONE statement however many there are: the current rows, their
 * history rows and every search index row, with history sequence numbers in the order given (issue 11
 * §4). Values travel as one JSON document and as column arrays (`unnest`), so the statement's bind
 * parameters stay a few dozen, far below PostgreSQL's 65,535. Several versions need their sequence
 * numbers drawn first (`drawSeqs`, one statement); a single version draws its own in a one-row CTE.
 * The statement is built as CTEs (`versionCtes`) so the unit of work (unit-of-work.ts) can join other
 * inserts to it. Callers have validated, access-checked and run the write rules on each resource.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { patientCompartmentsOf } from '../search/compartments.js';
import { storedIndexRows } from '../search/extract.js';
import { indexInsertCtes } from '../search/index-writer.js';

export interface NewVersion {
  /** Server meta stamped: `id`, `meta.versionId` and `meta.lastUpdated`. */
  resource: Resource;
  /** The HTTP method recorded in history (POST, PUT, PATCH, or POST for a server-generated resource). */
  method: string;
  /** A new version of an existing row (its row locked by this transaction), not a first version. */
  update?: boolean;
}

/** Sequence numbers for `count` versions, ascending (the order versions are given in). */
export async function drawSeqs(q: Queryable, count: number): Promise<number[]> {
  const drawn = await q.query<{ seq: number | string }>("SELECT nextval('history_seq') AS seq FROM generate_series(1, $1::int4)", [count]);
  return drawn.map((r) => Number(r.seq)).sort((a, b) => a - b);
}

/** Stores `list` now, in one statement (two when several versions need their sequence numbers drawn). */
export async function insertVersions(tx: Queryable, list: readonly NewVersion[]): Promise<void> {
  if (list.length === 0) return;
  const params: unknown[] = [];
  const seqs = list.length > 1 ? await drawSeqs(tx, list.length) : undefined;
  await tx.query(`WITH ${versionCtes(list, params, seqs).join(', ')} SELECT 1`, params);
}

/** First versions only (server-assigned ids): the bulk loader's name for insertVersions. */
export const insertFirstVersions = insertVersions;

/**
 * Data-modifying CTEs that store `list`, binding into `params`. `seqs`: the versions' sequence numbers
 * (drawSeqs); omitted only for a single version, whose statement draws its own.
 */
export function versionCtes(list: readonly NewVersion[], params: unknown[], seqs?: readonly number[]): string[] {
  if (list.length === 0) return [];
  if (!seqs) {
    if (list.length !== 1) throw new Error('several versions need their sequence numbers drawn first');
    return oneVersion(list[0]!, params);
  }
  const rows = list.map((v, i) => ({
    rt: v.resource.resourceType,
    id: v.resource.id,
    vid: Number(v.resource.meta!.versionId),
    lu: v.resource.meta!.lastUpdated,
    content: v.resource,
    comp: patientCompartmentsOf(v.resource),
    method: v.method,
    seq: seqs[i],
    upd: v.update === true,
  }));
  const d = `$${params.push(JSON.stringify(rows))}`;
  const ctes = [`d AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(${d}::jsonb) AS x(rt text, id text, vid int4, lu timestamptz, content jsonb, comp text[], method text, seq int8, upd boolean))`];
  if (rows.some((r) => !r.upd)) {
    ctes.push(`r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
        SELECT rt, id, vid, lu, false, content, comp, seq FROM d WHERE NOT upd)`);
  }
  if (rows.some((r) => r.upd)) {
    // Each (type, id) at most once: a second write of the same resource reads its row first, which
    // stores the first (unit-of-work.ts), so no two rows of `d` update one resource.
    ctes.push(`u AS (UPDATE resources t SET version_id = d.vid, last_updated = d.lu, deleted = false, content = d.content, compartments = d.comp, seq = d.seq
        FROM d WHERE d.upd AND t.resource_type = d.rt AND t.id = d.id)`);
  }
  ctes.push(`h AS (INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
        SELECT seq, rt, id, vid, lu, false, method, content, comp, seq FROM d)`);
  ctes.push(...indexInsertCtes(list.map((v, i) => ({ type: v.resource.resourceType, id: v.resource.id!, seq: seqs[i]!, rows: storedIndexRows(v.resource) })), params));
  return ctes;
}

/**
 * A single write (`POST [type]`, `PUT`, the most common ones): the statement draws its own sequence
 * number in a one-row CTE that every insert reads, so no join needs a size estimate.
 */
function oneVersion(v: NewVersion, params: unknown[]): string[] {
  const r = v.resource;
  const at = params.length;
  params.push(r.resourceType, r.id, Number(r.meta!.versionId), r.meta!.lastUpdated, r, patientCompartmentsOf(r), v.method);
  return [...oneVersionSql(v.update === true, at), ...indexInsertCtes([{ type: r.resourceType, id: r.id!, seq: 0, rows: storedIndexRows(r) }], params, '(SELECT seq FROM s)')];
}

/** The statement text of a single write depends only on its kind and where its parameters start: made once per shape. */
const oneVersionTexts = new Map<string, readonly string[]>();
function oneVersionSql(update: boolean, at: number): readonly string[] {
  const key = `${update}|${at}`;
  let ctes = oneVersionTexts.get(key);
  if (ctes) return ctes;
  const [rt, id, vid, lu, content, comp, method] = [1, 2, 3, 4, 5, 6, 7].map((i) => `$${at + i}`);
  ctes = [
    `s AS MATERIALIZED (SELECT nextval('history_seq') AS seq)`,
    update
      ? `r AS (UPDATE resources SET version_id = ${vid}::int4, last_updated = ${lu}::timestamptz, deleted = false, content = ${content}::jsonb, compartments = ${comp}::text[], seq = s.seq FROM s WHERE resource_type = ${rt}::text AND id = ${id}::text)`
      : `r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq) SELECT ${rt}::text, ${id}::text, ${vid}::int4, ${lu}::timestamptz, false, ${content}::jsonb, ${comp}::text[], seq FROM s)`,
    `h AS (INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq) SELECT seq, ${rt}::text, ${id}::text, ${vid}::int4, ${lu}::timestamptz, false, ${method}::text, ${content}::jsonb, ${comp}::text[], seq FROM s)`,
  ];
  if (oneVersionTexts.size < 64) oneVersionTexts.set(key, ctes);
  return ctes;
}
