/**
 * Writes a resource's search index rows inside the write transaction: the old rows go, the new
 * rows come in one multi-row INSERT per table (unnest of arrays, so one round trip per table).
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { extractIndexRows, type IndexRows } from './extract.js';

export const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_reference', 'sp_date', 'sp_number', 'sp_quantity', 'sp_uri'] as const;

export async function deleteSearchIndex(tx: Queryable, resourceType: string, id: string): Promise<void> {
  for (const table of INDEX_TABLES) await tx.query(`DELETE FROM ${table} WHERE resource_type = $1 AND resource_id = $2`, [resourceType, id]);
}

/** `fresh`: the resource was just created, so it has no rows to remove (saves seven round trips). */
export async function writeSearchIndex(tx: Queryable, resource: Resource, opts: { fresh?: boolean } = {}): Promise<void> {
  const type = resource.resourceType;
  const id = resource.id!;
  if (!opts.fresh) await deleteSearchIndex(tx, type, id);
  await insertRows(tx, type, id, extractIndexRows(resource));
}

async function insertRows(tx: Queryable, type: string, id: string, rows: IndexRows): Promise<void> {
  const insert = async (table: string, columns: string[], casts: string[], data: unknown[][]) => {
    if (data[0]!.length === 0) return;
    const unnest = casts.map((c, i) => `$${i + 3}::${c}[]`).join(', ');
    await tx.query(`INSERT INTO ${table} (resource_type, resource_id, ${columns.join(', ')}) SELECT $1, $2, * FROM unnest(${unnest})`, [type, id, ...data]);
  };
  await insert('sp_token', ['code', 'system', 'value', 'text', 'element'], ['text', 'text', 'text', 'text', 'int4'], [rows.token.map((r) => r.code), rows.token.map((r) => r.system), rows.token.map((r) => r.value), rows.token.map((r) => r.text), elements(rows.token)]);
  await insert('sp_string', ['code', 'norm', 'value', 'element'], ['text', 'text', 'text', 'int4'], [rows.string.map((r) => r.code), rows.string.map((r) => r.norm), rows.string.map((r) => r.value), elements(rows.string)]);
  await insert(
    'sp_reference',
    ['code', 'target_type', 'target_id', 'url', 'ident_system', 'ident_value', 'element'],
    ['text', 'text', 'text', 'text', 'text', 'text', 'int4'],
    [rows.reference.map((r) => r.code), rows.reference.map((r) => r.targetType), rows.reference.map((r) => r.targetId), rows.reference.map((r) => r.url), rows.reference.map((r) => r.identSystem), rows.reference.map((r) => r.identValue), elements(rows.reference)],
  );
  await insert('sp_date', ['code', 'low', 'high', 'element'], ['text', 'timestamptz', 'timestamptz', 'int4'], [rows.date.map((r) => r.code), rows.date.map((r) => r.low), rows.date.map((r) => r.high), elements(rows.date)]);
  await insert('sp_number', ['code', 'value', 'element'], ['text', 'numeric', 'int4'], [rows.number.map((r) => r.code), rows.number.map((r) => r.value), elements(rows.number)]);
  await insert('sp_quantity', ['code', 'value', 'system', 'unit', 'element'], ['text', 'numeric', 'text', 'text', 'int4'], [rows.quantity.map((r) => r.code), rows.quantity.map((r) => r.value), rows.quantity.map((r) => r.system), rows.quantity.map((r) => r.unit), elements(rows.quantity)]);
  await insert('sp_uri', ['code', 'value', 'element'], ['text', 'text', 'int4'], [rows.uri.map((r) => r.code), rows.uri.map((r) => r.value), elements(rows.uri)]);
}

/** Composite component rows carry their element ordinal (see 004-composite.sql); others NULL. */
const elements = (list: ReadonlyArray<{ element?: number }>): Array<number | null> => list.map((r) => r.element ?? null);
