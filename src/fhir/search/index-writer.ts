/**
 * Writes a resource's search index rows inside the write transaction: the old rows go, the new
 * rows come in one statement (a data-modifying CTE per table, each an unnest of arrays).
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { extractIndexRows, type IndexRows } from './extract.js';

export const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_reference', 'sp_date', 'sp_number', 'sp_quantity', 'sp_uri'] as const;

export async function deleteSearchIndex(tx: Queryable, resourceType: string, id: string): Promise<void> {
  // One statement (data-modifying CTEs) instead of one round trip per table.
  const ctes = INDEX_TABLES.map((t) => `d_${t} AS (DELETE FROM ${t} WHERE resource_type = $1 AND resource_id = $2)`);
  await tx.query(`WITH ${ctes.join(', ')} SELECT 1`, [resourceType, id]);
}

/** `fresh`: the resource was just created, so it has no rows to remove. */
export async function writeSearchIndex(tx: Queryable, resource: Resource, opts: { fresh?: boolean } = {}): Promise<void> {
  const type = resource.resourceType;
  const id = resource.id!;
  if (!opts.fresh) await deleteSearchIndex(tx, type, id);
  await insertRows(tx, type, id, extractIndexRows(resource));
}

interface TableRows {
  table: string;
  columns: string[];
  casts: string[];
  data: unknown[][];
}

/** All index rows of a resource in one statement: a data-modifying CTE per non-empty table, each an unnest of arrays. */
async function insertRows(tx: Queryable, type: string, id: string, rows: IndexRows): Promise<void> {
  const tables: TableRows[] = [
    { table: 'sp_token', columns: ['code', 'system', 'value', 'text', 'element'], casts: ['text', 'text', 'text', 'text', 'int4'], data: [rows.token.map((r) => r.code), rows.token.map((r) => r.system), rows.token.map((r) => r.value), rows.token.map((r) => r.text), elements(rows.token)] },
    { table: 'sp_string', columns: ['code', 'norm', 'value', 'element'], casts: ['text', 'text', 'text', 'int4'], data: [rows.string.map((r) => r.code), rows.string.map((r) => r.norm), rows.string.map((r) => r.value), elements(rows.string)] },
    {
      table: 'sp_reference',
      columns: ['code', 'target_type', 'target_id', 'url', 'ident_system', 'ident_value', 'element'],
      casts: ['text', 'text', 'text', 'text', 'text', 'text', 'int4'],
      data: [rows.reference.map((r) => r.code), rows.reference.map((r) => r.targetType), rows.reference.map((r) => r.targetId), rows.reference.map((r) => r.url), rows.reference.map((r) => r.identSystem), rows.reference.map((r) => r.identValue), elements(rows.reference)],
    },
    { table: 'sp_date', columns: ['code', 'low', 'high', 'element'], casts: ['text', 'timestamptz', 'timestamptz', 'int4'], data: [rows.date.map((r) => r.code), rows.date.map((r) => r.low), rows.date.map((r) => r.high), elements(rows.date)] },
    { table: 'sp_number', columns: ['code', 'value', 'element'], casts: ['text', 'numeric', 'int4'], data: [rows.number.map((r) => r.code), rows.number.map((r) => r.value), elements(rows.number)] },
    { table: 'sp_quantity', columns: ['code', 'value', 'system', 'unit', 'element'], casts: ['text', 'numeric', 'text', 'text', 'int4'], data: [rows.quantity.map((r) => r.code), rows.quantity.map((r) => r.value), rows.quantity.map((r) => r.system), rows.quantity.map((r) => r.unit), elements(rows.quantity)] },
    { table: 'sp_uri', columns: ['code', 'value', 'element'], casts: ['text', 'text', 'int4'], data: [rows.uri.map((r) => r.code), rows.uri.map((r) => r.value), elements(rows.uri)] },
  ].filter((t) => t.data[0]!.length > 0);
  if (tables.length === 0) return;
  const params: unknown[] = [type, id];
  const ctes = tables.map((t) => {
    const unnest = t.casts.map((c, i) => `$${params.push(t.data[i])}::${c}[]`).join(', ');
    return `i_${t.table} AS (INSERT INTO ${t.table} (resource_type, resource_id, ${t.columns.join(', ')}) SELECT $1, $2, * FROM unnest(${unnest}))`;
  });
  await tx.query(`WITH ${ctes.join(', ')} SELECT 1`, params);
}

/** Composite component rows carry their element ordinal (see 004-composite.sql); others NULL. */
const elements = (list: ReadonlyArray<{ element?: number }>): Array<number | null> => list.map((r) => r.element ?? null);
