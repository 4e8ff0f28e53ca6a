/**
 * `_include` and `_revinclude` (with `:iterate` and `*`) for one page of matches. Included
 * resources pass the same access predicate as matches: an include is never a way around policy.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { badRequest } from '../errors.js';
import { isResourceType, searchParam, searchParamsFor } from '../definitions/registry.js';
import { resourceFromRow, type ResourceRow } from '../repository/rows.js';
import { accessPredicateFor } from './access-sql.js';
import { bind, type CompileCtx } from './compile.js';
import type { ParsedQuery } from './parse.js';
import type { SearchRequest } from './execute.js';

const MAX_ITERATIONS = 3;
const MAX_INCLUDED = 1000;

interface IncludeSpec {
  sourceType: string;
  code: string;
  targetType?: string;
  iterate: boolean;
}

function parseSpecs(values: string[] | undefined, name: string): IncludeSpec[] {
  return (values ?? []).map((raw) => {
    const [value, flag] = raw.split('\u0000');
    const [sourceType, code, targetType] = value!.split(':');
    if (!sourceType || !code || !isResourceType(sourceType) || (targetType && !isResourceType(targetType))) throw badRequest(`${name}=${value} is not Type:parameter[:targetType]`, name);
    if (code !== '*' && searchParam(sourceType, code)?.type !== 'reference') throw badRequest(`${name}: "${code}" is not a reference parameter of ${sourceType}`, name);
    return { sourceType, code, targetType, iterate: flag === 'iterate' };
  });
}

export async function loadIncludes(q: Queryable, page: Resource[], parsed: ParsedQuery, req: SearchRequest): Promise<Resource[]> {
  const includes = parseSpecs(parsed.control.get('_include'), '_include');
  const revincludes = parseSpecs(parsed.control.get('_revinclude'), '_revinclude');
  if (page.length === 0 || (includes.length === 0 && revincludes.length === 0)) return [];
  const seen = new Set(page.map((r) => `${r.resourceType}/${r.id}`));
  const out: Resource[] = [];
  let frontier = page;
  for (let round = 0; round < MAX_ITERATIONS && frontier.length > 0 && out.length < MAX_INCLUDED; round++) {
    const found: Resource[] = [];
    for (const spec of includes.filter((s) => round === 0 || s.iterate)) found.push(...(await forward(q, frontier, spec, req)));
    for (const spec of revincludes.filter((s) => round === 0 || s.iterate)) found.push(...(await reverse(q, frontier, spec, req)));
    frontier = [];
    for (const r of found) {
      const key = `${r.resourceType}/${r.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(r);
      frontier.push(r);
    }
  }
  return out.slice(0, MAX_INCLUDED);
}

async function forward(q: Queryable, from: Resource[], spec: IncludeSpec, req: SearchRequest): Promise<Resource[]> {
  const sources = from.filter((r) => r.resourceType === spec.sourceType).map((r) => r.id!);
  if (sources.length === 0) return [];
  const params: unknown[] = [];
  const ctx: CompileCtx = { params, fhirBase: req.fhirBase, access: req.access.filters, accessPredicate: accessPredicateFor, depth: 0 };
  const codes = spec.code === '*' ? [...searchParamsFor(spec.sourceType).values()].filter((p) => p.type === 'reference').map((p) => p.code) : [spec.code];
  const targetFilter = spec.targetType ? `AND i.target_type = ${bind(ctx, spec.targetType)}` : '';
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, r.seq FROM resources r
      WHERE (r.resource_type, r.id) IN (SELECT i.target_type, i.target_id FROM sp_reference i WHERE i.resource_type = ${bind(ctx, spec.sourceType)} AND i.code = ANY(${bind(ctx, codes)}::text[]) AND i.seq IN (SELECT src.seq FROM resources src WHERE src.resource_type = ${bind(ctx, spec.sourceType)} AND src.id = ANY(${bind(ctx, sources)}::text[])) AND i.target_id IS NOT NULL ${targetFilter})
        AND NOT r.deleted AND ${accessPredicateFor('*', 'r', ctx)} LIMIT ${MAX_INCLUDED}`,
    params,
  );
  return rows.map((r) => resourceFromRow(r));
}

async function reverse(q: Queryable, targets: Resource[], spec: IncludeSpec, req: SearchRequest): Promise<Resource[]> {
  if (targets.length === 0) return [];
  const params: unknown[] = [];
  const ctx: CompileCtx = { params, fhirBase: req.fhirBase, access: req.access.filters, accessPredicate: accessPredicateFor, depth: 0 };
  const codes = spec.code === '*' ? [...searchParamsFor(spec.sourceType).values()].filter((p) => p.type === 'reference').map((p) => p.code) : [spec.code];
  const keys = targets.map((t) => `${t.resourceType}/${t.id}`);
  const rows = await q.query<ResourceRow & Record<string, unknown>>(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, r.seq FROM resources r
      WHERE r.resource_type = ${bind(ctx, spec.sourceType)} AND r.seq IN (SELECT i.seq FROM sp_reference i WHERE i.resource_type = ${bind(ctx, spec.sourceType)} AND i.code = ANY(${bind(ctx, codes)}::text[]) AND i.target_id = ANY(${bind(ctx, targets.map((t) => t.id))}::text[]) AND (i.target_type || '/' || i.target_id) = ANY(${bind(ctx, keys)}::text[]))
        AND NOT r.deleted AND ${accessPredicateFor(spec.sourceType, 'r', ctx)} LIMIT ${MAX_INCLUDED}`,
    params,
  );
  return rows.map((r) => resourceFromRow(r));
}
