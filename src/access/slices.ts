/**
 * Slices of a resource type (policy.ts), in two forms from one text: a FilterExpr the search
 * compiler turns into SQL (reads, searches, includes, history, counts), and an in-memory test for
 * the resource being written. Within a type the first slice whose query matches wins; 'otherwise'
 * takes what no other slice of the type matched, so slices never overlap.
 */
import type { FhirResource, Resource } from 'fhir/r4';
import type { FilterExpr } from './access-context.js';
import { extractIndexRows, type IndexRows } from '../fhir/search/extract.js';
import { matchesQuery } from './slice-match.js';
import { rowsFor, type Actor, type PolicyRow } from './policy.js';

/** Values for the policy's placeholders, fixed once per request. */
export interface SliceVars {
  patient: string;
  /** The acting person as a reference (`Patient/…`, `RelatedPerson/…`), or '' for none. */
  actor: string;
  /** The acting RelatedPerson's id, or '' (matches nothing). */
  actorId: string;
  now: string;
  recent: string;
}

// An id FHIR cannot produce (ids are [A-Za-z0-9-.]{1,64}), so an absent placeholder matches nothing.
const NOTHING = '~none~';

export function expand(query: string, vars: SliceVars): string {
  return query.replace(/\{(patient|actor|actorId|now|recent)\}/g, (_, k: keyof SliceVars) => encodeURIComponent(vars[k] || NOTHING).replace(/%2F/g, '/').replace(/%3A/g, ':'));
}

function ownQueries(r: PolicyRow, vars: SliceVars): string[] | null {
  if (typeof r.match === 'string') return null;
  return 'query' in r.match ? [expand(r.match.query, vars)] : r.match.anyOf.map((q) => expand(q, vars));
}

/** The SQL-side membership of each slice of a type, in table order. */
export function sliceExprs(resourceType: string, vars: SliceVars): Array<{ row: PolicyRow; expr: FilterExpr }> {
  const rows = rowsFor(resourceType);
  const explicit = rows.map((r) => ownQueries(r, vars));
  return rows.map((r, i) => {
    if (r.match === 'all') return { row: r, expr: true };
    const earlier: FilterExpr[] = explicit.slice(0, i).flatMap((qs) => (qs ? [{ or: qs.map((query) => ({ query })) }] : []));
    if (r.match === 'otherwise') {
      const others = explicit.flatMap((qs) => (qs ? [{ or: qs.map((query) => ({ query })) }] : []));
      return { row: r, expr: { not: { or: others } } };
    }
    const own: FilterExpr = { or: explicit[i]!.map((query) => ({ query })) };
    return { row: r, expr: earlier.length === 0 ? own : { and: [own, { not: { or: earlier } }] } };
  });
}

/** The slice a resource falls in (first explicit match, else 'otherwise'/'all'); null when the type has no row. */
export function sliceOf(resource: Resource | FhirResource, vars: SliceVars): PolicyRow | null {
  const rows = rowsFor(resource.resourceType);
  let index: IndexRows | undefined;
  for (const r of rows) {
    const qs = ownQueries(r, vars);
    // Only the parameters the type's slice queries name are extracted: the matcher reads no other
    // rows, and a full extraction (every parameter, composites through FHIRPath) cost a write as
    // much as storing its index (issue 11 §4).
    if (qs && qs.some((q) => matchesQuery(resource as Resource, q, (index ??= extractIndexRows(resource as Resource, sliceParams(resource.resourceType)))))) return r;
  }
  return rows.find((r) => r.match === 'otherwise' || r.match === 'all') ?? null;
}

const paramsByType = new Map<string, ReadonlySet<string>>();

/** The search parameters named by a type's slice queries (the placeholders change values, never names). */
function sliceParams(resourceType: string): ReadonlySet<string> {
  let names = paramsByType.get(resourceType);
  if (!names) {
    const noVars: SliceVars = { patient: '', actor: '', actorId: '', now: '', recent: '' };
    names = new Set(rowsFor(resourceType).flatMap((r) => (ownQueries(r, noVars) ?? []).flatMap((q) => [...new URLSearchParams(q).keys()])));
    paramsByType.set(resourceType, names);
  }
  return names;
}

const uniform = new Map<string, boolean>();

/**
 * True when every slice of the type grants `actor` the letter and every resource of the type falls
 * in some slice (an 'otherwise' or 'all' row): the decision is then the same whichever slice a
 * resource falls in, so the write path need not find it (a system client's create, issue 11 §4).
 */
export function sameInEverySlice(resourceType: string, actor: Actor, letter: string): boolean {
  const key = `${resourceType}|${actor}|${letter}`;
  let same = uniform.get(key);
  if (same === undefined) {
    const rows = rowsFor(resourceType);
    same = rows.length > 0 && rows.every((r) => r.allow[actor].includes(letter)) && rows.some((r) => r.match === 'otherwise' || r.match === 'all');
    uniform.set(key, same);
  }
  return same;
}
