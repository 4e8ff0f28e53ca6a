/** Ids matching a query, for conditional create/update/delete and conditional references (always strict). */
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { badRequest } from '../errors.js';
import { searchParam } from '../definitions/registry.js';
import { compileAccessPredicate } from './access-sql.js';
import { bind, compileParam, hasPredicate, type CompileCtx } from './compile.js';
import { accessPredicateFor } from './access-sql.js';
import { parseQuery } from './parse.js';
import { rowCodes } from './row-sources.js';

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

/** One condition of a batch: a resource type and its query (`identifier=system|value`). */
export interface Condition {
  type: string;
  query: string;
}

/** Conditions per statement: each adds only to two arrays, so this bounds statement size, not parameters. */
const CHUNK = 1000;

/**
 * The ids matching each of many conditions, for those conditions that are one token parameter with
 * one `system|code` value (what the device bridges and most clients send as `ifNoneExist`): every
 * condition of the same type and parameter is looked up in one statement (a lateral join over the
 * arrays of systems and codes), so a Bundle of a thousand conditional creates costs one round trip,
 * not a thousand (issue 11 §4). The predicate is the one `findMatchingIds` compiles for such a
 * condition (compile.ts tokenPredicate), with the same access predicate. Conditions of any other
 * shape are left out of the answer: the caller asks `findMatchingIds` for them one by one.
 */
export async function findTokenMatches(q: Queryable, conditions: readonly Condition[], access: AccessContext, limit = 2): Promise<Map<number, string[]>> {
  const groups = new Map<string, Array<{ at: number; system: string; code: string }>>();
  conditions.forEach((c, at) => {
    const simple = simpleToken(c);
    if (!simple) return;
    const key = `${c.type}\u0000${simple.param}`;
    const list = groups.get(key) ?? [];
    list.push({ at, system: simple.system, code: simple.code });
    groups.set(key, list);
  });
  const found = new Map<number, string[]>();
  for (const [key, list] of groups) {
    const [type, param] = key.split('\u0000') as [string, string];
    for (let i = 0; i < list.length; i += CHUNK) {
      const chunk = list.slice(i, i + CHUNK);
      const params: unknown[] = [chunk.map((x) => x.system), chunk.map((x) => x.code), chunk.map((x) => x.at), type, param];
      const access_ = compileAccessPredicate(type, access.filters, 'r', params);
      // The token rows are found first (MATERIALIZED: index on value and system), and only they are
      // judged by the current version and the access predicate. Left to the planner, a lateral join
      // was sometimes driven from the access predicate, scanning all of the patient's Observations
      // once per condition: 22 s instead of 70 ms for a push of 1,000 samples (bench/push-cost.ts).
      // DISTINCT: a resource carrying the same identifier twice is still one match.
      const rows = await q.query<{ at: number; id: string }>(
        `WITH m AS MATERIALIZED (SELECT k.at, t.seq FROM unnest($1::text[], $2::text[], $3::int4[]) AS k(system, code, at)
            JOIN sp_token t ON t.resource_type = $4 AND t.code = $5 AND t.value = k.code AND t.system = k.system)
         SELECT DISTINCT m.at, r.id FROM m JOIN resources r ON r.seq = m.seq
          WHERE r.resource_type = $4 AND NOT r.deleted AND ${access_}`,
        params,
      );
      for (const x of chunk) found.set(x.at, []);
      for (const row of rows) {
        const ids = found.get(Number(row.at))!;
        if (ids.length < limit) ids.push(row.id);
      }
    }
  }
  return found;
}

/** `param=system|code` on a token parameter, no modifier, chain, OR or control parameter; else null. */
function simpleToken(c: Condition): { param: string; system: string; code: string } | null {
  let parsed;
  try {
    parsed = parseQuery([...new URLSearchParams(c.query)]);
  } catch {
    return null;
  }
  if (parsed.params.length !== 1 || parsed.has.length > 0 || parsed.control.size > 0) return null;
  const node = parsed.params[0]!;
  if (node.modifier || node.chain.length > 0 || node.values.length !== 1 || node.code.startsWith('_')) return null;
  if (searchParam(c.type, node.code)?.type !== 'token') return null;
  // A union parameter's rows live under its sources too (row-sources.ts): findMatchingIds reads them all.
  if (rowCodes(c.type, node.code).length > 1) return null;
  // As valuePredicate and tokenPredicate read the value: `\$` unescaped, split at the first `|`.
  const value = node.values[0]!.replace(/\\\$/g, '$');
  const bar = value.indexOf('|');
  if (bar <= 0 || bar === value.length - 1) return null;
  return { param: node.code, system: value.slice(0, bar), code: value.slice(bar + 1) };
}
