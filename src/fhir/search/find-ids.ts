/** Ids matching a query, for conditional create/update/delete and conditional references (always strict). */
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { badRequest } from '../errors.js';
import { compileAccessPredicate } from './access-sql.js';
import { bind, compileParam, hasPredicate, type CompileCtx } from './compile.js';
import { accessPredicateFor } from './access-sql.js';
import { parseQuery } from './parse.js';

export async function findMatchingIds(q: Queryable, resourceType: string, query: string, access: AccessContext, limit = 2): Promise<string[]> {
  const parsed = parseQuery([...new URLSearchParams(query)]);
  if (parsed.params.length === 0 && parsed.has.length === 0) throw badRequest(`Conditional criteria "${query}" select nothing`, 'criteria');
  const params: unknown[] = [];
  const ctx: CompileCtx = { params, fhirBase: '', access: access.filters, accessPredicate: accessPredicateFor, depth: 0 };
  const preds = [
    ...parsed.params.map((p) => compileParam(resourceType, p, 'r', ctx)),
    ...parsed.has.map((h) => hasPredicate(resourceType, h.raw, h.value, 'r', ctx)),
    compileAccessPredicate(resourceType, access.filters, 'r', params),
  ];
  const rows = await q.query<{ id: string }>(
    `SELECT r.id FROM resources r WHERE r.resource_type = ${bind(ctx, resourceType)} AND NOT r.deleted AND ${preds.join(' AND ')} LIMIT ${bind(ctx, limit)}`,
    params,
  );
  return rows.map((r) => r.id);
}
