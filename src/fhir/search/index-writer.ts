/**
 * Writes the search index rows of stored versions inside the write transaction. Rows belong to a
 * version (`seq` = resource_history.seq, 006-per-version-index.sql) and are never rewritten or
 * deleted: a query on current resources joins them by `resources.seq`, vread and _history by the
 * version shown, so every version is judged by its own content (access-spec §5.1).
 *
 * Every table's rows travel as one array per column and are inserted with `unnest`, so a statement
 * has the same handful of bind parameters however many resources it indexes (PostgreSQL allows
 * 65,535; a Bundle of a thousand resources has tens of thousands of index rows).
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { storedIndexRows, type IndexRows } from './extract.js';

export const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_reference', 'sp_date', 'sp_number', 'sp_quantity', 'sp_uri'] as const;

/** A stored version and its history sequence number. */
export interface StoredVersion {
  resource: Resource;
  seq: number;
}

/** The index rows of one stored version. */
export interface VersionRows {
  type: string;
  id: string;
  seq: number;
  rows: IndexRows;
}

/** The index rows of the given stored versions, all in one statement. */
export async function writeSearchIndex(tx: Queryable, versions: readonly StoredVersion[]): Promise<void> {
  const params: unknown[] = [];
  const ctes = indexInsertCtes(versions.map((v) => ({ type: v.resource.resourceType, id: v.resource.id!, seq: v.seq, rows: storedIndexRows(v.resource) })), params);
  if (ctes.length === 0) return;
  await tx.query(`WITH ${ctes.join(', ')} SELECT 1`, params);
}

/** Column layout of each index table: the row fields in column order, and their SQL types. */
const TABLES: ReadonlyArray<{ key: keyof IndexRows; table: string; columns: string[]; fields: string[]; casts: string[] }> = [
  { key: 'token', table: 'sp_token', columns: ['code', 'system', 'value', 'text', 'element'], fields: ['code', 'system', 'value', 'text'], casts: ['text', 'text', 'text', 'text', 'int4'] },
  { key: 'string', table: 'sp_string', columns: ['code', 'norm', 'value', 'element'], fields: ['code', 'norm', 'value'], casts: ['text', 'text', 'text', 'int4'] },
  {
    key: 'reference',
    table: 'sp_reference',
    columns: ['code', 'target_type', 'target_id', 'url', 'ident_system', 'ident_value', 'element'],
    fields: ['code', 'targetType', 'targetId', 'url', 'identSystem', 'identValue'],
    casts: ['text', 'text', 'text', 'text', 'text', 'text', 'int4'],
  },
  { key: 'date', table: 'sp_date', columns: ['code', 'low', 'high', 'element'], fields: ['code', 'low', 'high'], casts: ['text', 'timestamptz', 'timestamptz', 'int4'] },
  { key: 'number', table: 'sp_number', columns: ['code', 'value', 'element'], fields: ['code', 'value'], casts: ['text', 'numeric', 'int4'] },
  { key: 'quantity', table: 'sp_quantity', columns: ['code', 'value', 'system', 'unit', 'element'], fields: ['code', 'value', 'system', 'unit'], casts: ['text', 'numeric', 'text', 'text', 'int4'] },
  { key: 'uri', table: 'sp_uri', columns: ['code', 'value', 'element'], fields: ['code', 'value'], casts: ['text', 'text', 'int4'] },
];

/**
 * Data-modifying CTEs (one per non-empty index table) that insert the rows of `list`, each an
 * unnest of column arrays (a join would need the planner to guess the sizes of both sides, and a
 * nested loop over thousands of rows costs seconds). Binds into `params`; no CTE when nothing to index.
 * `seqSql`: for a single version, the SQL of its sequence number (drawn by the same statement).
 * Each column is bound as the PostgreSQL array literal the `pg` driver would have made of the JS
 * array (`arrayLiteral`), written straight from the rows: no per-row objects, no per-column arrays.
 */
export function indexInsertCtes(list: readonly VersionRows[], params: unknown[], seqSql?: string): string[] {
  const ctes: string[] = [];
  for (const t of TABLES) {
    let count = 0;
    for (const x of list) count += x.rows[t.key].length;
    if (count === 0) continue;
    const owner = seqSql ? 2 : 3;
    const cols = Array.from({ length: owner + t.columns.length }, () => new ArrayLiteral());
    for (const x of list) {
      const rows = x.rows[t.key] as unknown as Array<Record<string, string | number | null | undefined>>;
      for (const r of rows) {
        cols[0]!.add(x.type);
        cols[1]!.add(x.id);
        if (!seqSql) cols[2]!.add(x.seq);
        for (let f = 0; f < t.fields.length; f++) cols[owner + f]!.add(r[t.fields[f]!]);
        cols[owner + t.fields.length]!.add(r.element ?? null);
      }
    }
    const casts = [...(seqSql ? ['text', 'text'] : ['text', 'text', 'int8']), ...t.casts];
    const unnest = casts.map((c, i) => `$${params.push(cols[i]!.text())}::${c}[]`).join(', ');
    if (seqSql) {
      // One version whose sequence number the statement draws itself (`seqSql`, bulk-insert.ts).
      const names = casts.map((_, i) => `c${i}`);
      ctes.push(`i_${t.table} AS (INSERT INTO ${t.table} (resource_type, resource_id, seq, ${t.columns.join(', ')}) SELECT c0, c1, ${seqSql}, ${names.slice(2).join(', ')} FROM unnest(${unnest}) AS u(${names.join(', ')}))`);
    } else {
      ctes.push(`i_${t.table} AS (INSERT INTO ${t.table} (resource_type, resource_id, seq, ${t.columns.join(', ')}) SELECT * FROM unnest(${unnest}))`);
    }
  }
  return ctes;
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * A one-dimensional PostgreSQL array literal, byte for byte what `pg` sends for a JS array of
 * strings, numbers and nulls (pg/lib/utils.js arrayString: every element quoted, `\` and `"`
 * escaped, null as NULL); PGlite passes a string through as well. Building it here skips pg's
 * per-element conversion and two regular-expression replacements on every value of every index row.
 */
export class ArrayLiteral {
  /** Elements as they appear in the literal, joined once at the end: one flat string, no rope. */
  private readonly parts: string[] = [];

  add(v: string | number | null | undefined): void {
    if (v === null || v === undefined) {
      this.parts.push('NULL');
      return;
    }
    const s = typeof v === 'string' ? v : String(v);
    this.parts.push(NEEDS_ESCAPE.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${s}"`);
  }

  text(): string {
    return `{${this.parts.join(',')}}`;
  }
}
