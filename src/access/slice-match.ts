/**
 * Evaluates a policy slice query against one resource in memory, from the same index rows the
 * write path stores, so a write is judged by exactly what a later search would see. Only the
 * forms the policy uses are understood (token, reference, date with a prefix, `_id`); any other
 * form is a programming error, caught by the policy tests, never a silent "no match".
 */
import type { Resource } from 'fhir/r4';
import { searchParam } from '../fhir/definitions/registry.js';
import { extractIndexRows, type IndexRows } from '../fhir/search/extract.js';
import { dateRange } from '../fhir/search/normalize.js';
import { splitPrefix } from '../fhir/search/parse.js';

/** `rows`: the resource's index rows when the caller already has them (one extraction per decision). */
export function matchesQuery(resource: Resource, query: string, rows: IndexRows = extractIndexRows(resource)): boolean {
  return [...new URLSearchParams(query)].every(([name, value]) => matchesParam(resource, rows, name, value));
}

function matchesParam(resource: Resource, rows: IndexRows, name: string, value: string): boolean {
  if (name === '_id') return value.split(',').includes(resource.id ?? '');
  const def = searchParam(resource.resourceType, name);
  if (!def) throw new Error(`Policy query parameter "${name}" is not a search parameter of ${resource.resourceType}`);
  const alternatives = value.split(',');
  switch (def.type) {
    case 'token':
      return rows.token.some((t) => t.code === name && alternatives.some((alt) => tokenMatches(t.system, t.value, alt)));
    case 'reference':
      return rows.reference.some((r) => r.code === name && alternatives.some((alt) => `${r.targetType}/${r.targetId}` === alt));
    case 'date':
      return rows.date.some((d) => d.code === name && alternatives.some((alt) => dateMatches(d.low, d.high, alt)));
    default:
      throw new Error(`Policy query parameter "${name}" has type ${def.type}, which the in-memory matcher does not evaluate`);
  }
}

function tokenMatches(system: string | null, code: string | null, token: string): boolean {
  const bar = token.indexOf('|');
  if (bar < 0) return code === token;
  const s = token.slice(0, bar);
  const c = token.slice(bar + 1);
  if (s === '') return system === null && code === c;
  if (c === '') return system === s;
  return system === s && code === c;
}

/** The same range semantics as the SQL compiler's datePredicate. */
function dateMatches(lowIso: string, highIso: string, raw: string): boolean {
  const [prefix, value] = splitPrefix(raw);
  const range = dateRange(value);
  if (!range) throw new Error(`Policy date "${raw}" is not a FHIR dateTime`);
  const low = instant(lowIso);
  const high = instant(highIso);
  const lo = range.low.getTime();
  const hi = range.high.getTime();
  switch (prefix) {
    case 'lt': return low < lo;
    case 'le': return low < hi;
    case 'gt': return high > hi;
    case 'ge': return high > lo;
    default: throw new Error(`Policy date prefix "${prefix}" is not evaluated in memory`);
  }
}

/** Open-ended periods are indexed as PostgreSQL's -infinity/infinity. */
function instant(iso: string): number {
  if (iso === '-infinity') return -Infinity;
  if (iso === 'infinity') return Infinity;
  return Date.parse(iso);
}
