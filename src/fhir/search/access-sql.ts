/**
 * Access filters → SQL, in one place, used by reads, searches, includes, chains, `_has`, history
 * and counts alike. A 'query' filter is an ordinary search query compiled by the search compiler,
 * so the policy and search cannot drift apart.
 */
import type { AccessFilter, FilterExpr } from '../../access/access-context.js';
import { RESOURCE_TYPES } from '../definitions/registry.js';
import { FhirError } from '../errors.js';
import { bind, compileParam, nextAlias, withStableAliases, type CompileCtx } from './compile.js';
import { PATIENT_SCOPED_TYPES } from './compartments.js';
import { parseQuery } from './parse.js';

/** Patient-compartment types whose resources naming no Patient are reference data (row 19). */
const REFERENCE_WHEN_UNASSIGNED = ['Schedule'];

export function compileAccessPredicate(resourceType: string, filters: readonly AccessFilter[], alias: string, params: unknown[]): string {
  const ctx: CompileCtx = { params, fhirBase: '', access: filters, accessPredicate: accessPredicateFor, depth: 0 };
  return accessPredicateFor(resourceType, alias, ctx);
}

/**
 * Compiled access predicates, reused across requests (issue 11: compiling the policy's slices into
 * SQL took about a twentieth of a read's CPU). Only filter lists signed by the one place that builds
 * them (decide.ts `decideAccess`) are cached, under a signature naming everything they are made of;
 * an unsigned list is compiled every time. The SQL text numbers its parameters from where the
 * statement's list stood, so that position is part of the key, and a hit appends the same values.
 */
const signatures = new WeakMap<readonly AccessFilter[], string>();
/** Per signature (the same string object for a reused filter list, decide.ts), per type, alias, position and base. */
const compiled = new Map<string, Map<string, { sql: string; values: unknown[] }>>();
const COMPILED_MAX = 2_000;

/** Marks a frozen filter list as fully described by `signature`: equal signatures must mean equal filters. */
export function signFilters(filters: readonly AccessFilter[], signature: string): void {
  if (!Object.isFrozen(filters)) throw new Error('only a frozen filter list can be signed');
  signatures.set(filters, signature);
}

/** `resourceType` '*' means "whatever type the row has" (system search, system history). */
export function accessPredicateFor(resourceType: string, alias: string, ctx: CompileCtx): string {
  // Chains and `_has` (depth > 0) compile under fresh aliases each time: nothing there to reuse.
  const signature = ctx.depth === 0 ? signatures.get(ctx.access) : undefined;
  if (signature === undefined) return compileAccessFilters(resourceType, alias, ctx);
  const key = `${resourceType}|${alias}|${ctx.params.length}|${ctx.fhirBase}`;
  let bySignature = compiled.get(signature);
  const hit = bySignature?.get(key);
  if (hit) {
    ctx.params.push(...hit.values);
    return hit.sql;
  }
  const start = ctx.params.length;
  const sql = withStableAliases(() => compileAccessFilters(resourceType, alias, ctx));
  if (!bySignature) {
    if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value as string);
    compiled.set(signature, (bySignature = new Map()));
  }
  bySignature.set(key, { sql, values: ctx.params.slice(start) });
  return sql;
}

function compileAccessFilters(resourceType: string, alias: string, ctx: CompileCtx): string {
  const parts: string[] = [];
  for (const f of ctx.access) {
    switch (f.kind) {
      case 'types':
        parts.push(resourceType === '*' ? `${alias}.resource_type = ANY(${bind(ctx, [...f.allowed])}::text[])` : f.allowed.includes(resourceType) ? 'TRUE' : 'FALSE');
        break;
      case 'hide-type':
        parts.push(resourceType === '*' ? `${alias}.resource_type <> ${bind(ctx, f.resourceType)}` : resourceType === f.resourceType ? 'FALSE' : 'TRUE');
        break;
      case 'compartment': {
        // Bind only when used: a bound but unreferenced parameter is an error in PostgreSQL.
        const inCompartment = () => `${alias}.compartments && ${bind(ctx, [...f.patientIds])}::text[]`;
        // A Schedule whose actor is a service or a practitioner is in nobody's compartment: it is the
        // reference data citizens book from (access-spec §5.3 row 19), not patient data.
        const unassigned = () => `(${alias}.resource_type = ANY(${bind(ctx, REFERENCE_WHEN_UNASSIGNED)}::text[]) AND ${alias}.compartments = '{}')`;
        if (resourceType === '*') parts.push(`(${alias}.resource_type <> ALL(${bind(ctx, PATIENT_SCOPED_TYPES)}::text[]) OR ${inCompartment()} OR ${unassigned()})`);
        else if (REFERENCE_WHEN_UNASSIGNED.includes(resourceType)) parts.push(`(${inCompartment()} OR ${alias}.compartments = '{}')`);
        else if (PATIENT_SCOPED_TYPES.includes(resourceType)) parts.push(inCompartment());
        break;
      }
      case 'query': {
        if (resourceType !== '*' && resourceType !== f.resourceType) break;
        const predicate = compileFilterQuery(f.resourceType, f.query, alias, ctx);
        parts.push(resourceType === '*' ? `(${alias}.resource_type <> ${bind(ctx, f.resourceType)} OR ${predicate})` : predicate);
        break;
      }
      case 'predicate': {
        if (resourceType !== '*' && resourceType !== f.resourceType) break;
        const predicate = compileExpr(f.resourceType, f.expr, alias, ctx);
        parts.push(resourceType === '*' ? `(${alias}.resource_type <> ${bind(ctx, f.resourceType)} OR ${predicate})` : predicate);
        break;
      }
      case 'context': {
        if (resourceType !== '*' && resourceType !== f.resourceType) break;
        const predicate = contextPredicate(f.resourceType, f.param, alias, ctx);
        parts.push(resourceType === '*' ? `(${alias}.resource_type <> ${bind(ctx, f.resourceType)} OR ${predicate})` : predicate);
        break;
      }
    }
  }
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/**
 * "Visible iff the resource it names is visible" (access-spec §5.3 row 28), as SQL: the version's own
 * index row for `param` (so vread and _history judge each version by what it named) joined to the
 * CURRENT, undeleted target, which must pass every other filter of the request. Only references on
 * this server count (an absolute URL naming another server's Communication/x is not ours), and a
 * resource of the same type cannot lend its visibility (no Binary→Binary chains, no recursion).
 */
function contextPredicate(type: string, param: string, alias: string, ctx: CompileCtx): string {
  const [r, c] = [nextAlias('cx'), nextAlias('ct')];
  const others = ctx.access.filter((f) => f.kind !== 'context');
  const target = accessPredicateFor('*', c, { ...ctx, access: others, depth: ctx.depth + 1 });
  return `EXISTS (SELECT 1 FROM sp_reference ${r} JOIN resources ${c} ON ${c}.resource_type = ${r}.target_type AND ${c}.id = ${r}.target_id
    WHERE ${r}.seq = ${alias}.seq AND ${r}.resource_type = ${bind(ctx, type)} AND ${r}.code = ${bind(ctx, param)} AND position(':' in ${r}.url) = 0
      AND ${c}.resource_type <> ${bind(ctx, type)} AND NOT ${c}.deleted AND ${target})`;
}

function compileExpr(type: string, expr: FilterExpr, alias: string, ctx: CompileCtx): string {
  if (expr === true) return 'TRUE';
  if (expr === false) return 'FALSE';
  if ('query' in expr) return compileFilterQuery(type, expr.query, alias, ctx, 'throw');
  if ('not' in expr) return `NOT (${compileExpr(type, expr.not, alias, ctx)})`;
  const list = 'and' in expr ? expr.and : expr.or;
  if (list.length === 0) return 'and' in expr ? 'TRUE' : 'FALSE';
  return `(${list.map((e) => compileExpr(type, e, alias, ctx)).join('and' in expr ? ' AND ' : ' OR ')})`;
}

function compileFilterQuery(type: string, query: string, alias: string, ctx: CompileCtx, onError: 'deny' | 'throw' = 'deny'): string {
  const parsed = parseQuery([...new URLSearchParams(query)]);
  // The filter itself is compiled without access filters (no recursion into its own chains).
  const inner: CompileCtx = { ...ctx, access: [], depth: ctx.depth + 1, correlate: true };
  try {
    const preds = parsed.params.map((p) => compileParam(type, p, alias, inner));
    return preds.length === 0 ? 'TRUE' : `(${preds.join(' AND ')})`;
  } catch (err) {
    // A scope query that cannot be compiled denies rather than allows. Inside a policy expression a
    // FALSE could be negated into TRUE, so there it is a server fault (the policy tests compile every slice).
    if (err instanceof FhirError && onError === 'deny') return 'FALSE';
    if (err instanceof FhirError) throw new Error(`Access policy query "${query}" on ${type} does not compile: ${err.message}`, { cause: err });
    throw err;
  }
}

export const ALL_TYPES = RESOURCE_TYPES;
