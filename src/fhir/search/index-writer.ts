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

type Cols = ArrayLiteral[];
/** Appends one row's own columns to `c` from `o` on (static field reads: every index row of a write passes here). */
type WriteRow<K extends keyof IndexRows> = (r: IndexRows[K][number], c: Cols, o: number) => void;

/** Column layout of each index table: its own columns in order, their SQL types, and how a row fills them. */
const TABLES: ReadonlyArray<{ [K in keyof IndexRows]: { key: K; table: string; columns: string[]; casts: string[]; write: WriteRow<K> } }[keyof IndexRows]> = [
  {
    key: 'token',
    table: 'sp_token',
    columns: ['code', 'system', 'value', 'text', 'element'],
    casts: ['text', 'text', 'text', 'text', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.system);
      c[o + 2]!.add(r.value);
      c[o + 3]!.add(r.text);
      c[o + 4]!.add(r.element);
    },
  },
  {
    key: 'string',
    table: 'sp_string',
    columns: ['code', 'norm', 'value', 'element'],
    casts: ['text', 'text', 'text', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.norm);
      c[o + 2]!.add(r.value);
      c[o + 3]!.add(r.element);
    },
  },
  {
    key: 'reference',
    table: 'sp_reference',
    columns: ['code', 'target_type', 'target_id', 'url', 'ident_system', 'ident_value', 'element'],
    casts: ['text', 'text', 'text', 'text', 'text', 'text', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.targetType);
      c[o + 2]!.add(r.targetId);
      c[o + 3]!.add(r.url);
      c[o + 4]!.add(r.identSystem);
      c[o + 5]!.add(r.identValue);
      c[o + 6]!.add(r.element);
    },
  },
  {
    key: 'date',
    table: 'sp_date',
    columns: ['code', 'low', 'high', 'element'],
    casts: ['text', 'timestamptz', 'timestamptz', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.low);
      c[o + 2]!.add(r.high);
      c[o + 3]!.add(r.element);
    },
  },
  {
    key: 'number',
    table: 'sp_number',
    columns: ['code', 'value', 'element'],
    casts: ['text', 'numeric', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.value);
      c[o + 2]!.add(r.element);
    },
  },
  {
    key: 'quantity',
    table: 'sp_quantity',
    columns: ['code', 'value', 'system', 'unit', 'element'],
    casts: ['text', 'numeric', 'text', 'text', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.value);
      c[o + 2]!.add(r.system);
      c[o + 3]!.add(r.unit);
      c[o + 4]!.add(r.element);
    },
  },
  {
    key: 'uri',
    table: 'sp_uri',
    columns: ['code', 'value', 'element'],
    casts: ['text', 'text', 'int4'],
    write: (r, c, o) => {
      c[o]!.add(r.code);
      c[o + 1]!.add(r.value);
      c[o + 2]!.add(r.element);
    },
  },
];

/**
 * Data-modifying CTEs (one per non-empty index table) that insert the rows of `list`, each an
 * unnest of column arrays (a join would need the planner to guess the sizes of both sides, and a
 * nested loop over thousands of rows costs seconds). Binds into `params`; no CTE when nothing to index.
 * `seqSql`: for a single version, the SQL of its sequence number (drawn by the same statement).
 * Each column is bound as the PostgreSQL array literal the `pg` driver would have made of the JS
 * array (`arrayLiteral`), written straight from the rows: no per-row objects, no per-column arrays.
 * A version's type, id and sequence number are formatted once and repeated on each of its rows.
 */
export function indexInsertCtes(list: readonly VersionRows[], params: unknown[], seqSql?: string): string[] {
  const ctes: string[] = [];
  const owners = list.map((x) => ({ type: ArrayLiteral.element(x.type), id: ArrayLiteral.element(x.id), seq: ArrayLiteral.element(x.seq) }));
  for (const t of TABLES) {
    let count = 0;
    for (const x of list) count += x.rows[t.key].length;
    if (count === 0) continue;
    const owner = seqSql ? 2 : 3;
    const cols = Array.from({ length: owner + t.columns.length }, () => new ArrayLiteral());
    const write = t.write as WriteRow<keyof IndexRows>;
    for (let v = 0; v < list.length; v++) {
      const rows = list[v]!.rows[t.key];
      if (rows.length === 0) continue;
      const o = owners[v]!;
      for (const r of rows) {
        cols[0]!.addElement(o.type);
        cols[1]!.addElement(o.id);
        if (!seqSql) cols[2]!.addElement(o.seq);
        write(r, cols, owner);
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

  /** One value as it appears in the literal: quoted (`\` and `"` escaped), or NULL. */
  static element(v: string | number | null | undefined): string {
    if (v === null || v === undefined) return 'NULL';
    const s = typeof v === 'string' ? v : String(v);
    return NEEDS_ESCAPE.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${s}"`;
  }

  add(v: string | number | null | undefined): void {
    this.parts.push(ArrayLiteral.element(v));
  }

  /** An element already formatted by `element`. */
  addElement(element: string): void {
    this.parts.push(element);
  }

  text(): string {
    return `{${this.parts.join(',')}}`;
  }
}
