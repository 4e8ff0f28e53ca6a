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
import { extractIndexRows, type IndexRows } from './extract.js';

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
  const ctes = indexInsertCtes(versions.map((v) => ({ type: v.resource.resourceType, id: v.resource.id!, seq: v.seq, rows: extractIndexRows(v.resource) })), params);
  if (ctes.length === 0) return;
  await tx.query(`WITH ${ctes.join(', ')} SELECT 1`, params);
}

interface TableRows {
  table: string;
  columns: string[];
  casts: string[];
  data: unknown[][];
}

/**
 * Data-modifying CTEs (one per non-empty index table) that insert the rows of `list`, each an
 * unnest of column arrays (a join would need the planner to guess the sizes of both sides, and a
 * nested loop over thousands of rows costs seconds). Binds into `params`; no CTE when nothing to index.
 * `seqSql`: for a single version, the SQL of its sequence number (drawn by the same statement).
 */
export function indexInsertCtes(list: readonly VersionRows[], params: unknown[], seqSql?: string): string[] {
  type Owned<T> = T & { rt: string; rid: string; seq: number };
  const all = <K extends keyof IndexRows>(k: K): Array<Owned<IndexRows[K][number]>> => {
    const out: Array<Owned<IndexRows[K][number]>> = [];
    for (const x of list) for (const r of x.rows[k]) out.push({ ...r, rt: x.type, rid: x.id, seq: x.seq });
    return out;
  };
  const token = all('token');
  const string = all('string');
  const reference = all('reference');
  const date = all('date');
  const number = all('number');
  const quantity = all('quantity');
  const uri = all('uri');
  const owner = (rows: ReadonlyArray<{ rt: string; rid: string; seq: number }>) => [rows.map((r) => r.rt), rows.map((r) => r.rid), rows.map((r) => r.seq)];
  const tables: TableRows[] = [
    { table: 'sp_token', columns: ['code', 'system', 'value', 'text', 'element'], casts: ['text', 'text', 'text', 'text', 'int4'], data: [...owner(token), token.map((r) => r.code), token.map((r) => r.system), token.map((r) => r.value), token.map((r) => r.text), elements(token)] },
    { table: 'sp_string', columns: ['code', 'norm', 'value', 'element'], casts: ['text', 'text', 'text', 'int4'], data: [...owner(string), string.map((r) => r.code), string.map((r) => r.norm), string.map((r) => r.value), elements(string)] },
    {
      table: 'sp_reference',
      columns: ['code', 'target_type', 'target_id', 'url', 'ident_system', 'ident_value', 'element'],
      casts: ['text', 'text', 'text', 'text', 'text', 'text', 'int4'],
      data: [...owner(reference), reference.map((r) => r.code), reference.map((r) => r.targetType), reference.map((r) => r.targetId), reference.map((r) => r.url), reference.map((r) => r.identSystem), reference.map((r) => r.identValue), elements(reference)],
    },
    { table: 'sp_date', columns: ['code', 'low', 'high', 'element'], casts: ['text', 'timestamptz', 'timestamptz', 'int4'], data: [...owner(date), date.map((r) => r.code), date.map((r) => r.low), date.map((r) => r.high), elements(date)] },
    { table: 'sp_number', columns: ['code', 'value', 'element'], casts: ['text', 'numeric', 'int4'], data: [...owner(number), number.map((r) => r.code), number.map((r) => r.value), elements(number)] },
    { table: 'sp_quantity', columns: ['code', 'value', 'system', 'unit', 'element'], casts: ['text', 'numeric', 'text', 'text', 'int4'], data: [...owner(quantity), quantity.map((r) => r.code), quantity.map((r) => r.value), quantity.map((r) => r.system), quantity.map((r) => r.unit), elements(quantity)] },
    { table: 'sp_uri', columns: ['code', 'value', 'element'], casts: ['text', 'text', 'int4'], data: [...owner(uri), uri.map((r) => r.code), uri.map((r) => r.value), elements(uri)] },
  ].filter((t) => t.data[0]!.length > 0);
  return tables.map((t) => {
    if (seqSql) {
      // One version whose sequence number the statement draws itself (`seqSql`, bulk-insert.ts).
      const casts = ['text', 'text', ...t.casts];
      const data = [t.data[0], t.data[1], ...t.data.slice(3)];
      const unnest = casts.map((c, i) => `$${params.push(data[i])}::${c}[]`).join(', ');
      const cols = casts.map((_, i) => `c${i}`);
      return `i_${t.table} AS (INSERT INTO ${t.table} (resource_type, resource_id, seq, ${t.columns.join(', ')}) SELECT c0, c1, ${seqSql}, ${cols.slice(2).join(', ')} FROM unnest(${unnest}) AS u(${cols.join(', ')}))`;
    }
    const unnest = ['text', 'text', 'int8', ...t.casts].map((c, i) => `$${params.push(t.data[i])}::${c}[]`).join(', ');
    return `i_${t.table} AS (INSERT INTO ${t.table} (resource_type, resource_id, seq, ${t.columns.join(', ')}) SELECT * FROM unnest(${unnest}))`;
  });
}

/** Composite component rows carry their element ordinal (see 004-composite.sql); others NULL. */
const elements = (list: ReadonlyArray<{ element?: number }>): Array<number | null> => list.map((r) => r.element ?? null);
