/**
 * Does a resource being written satisfy a granular scope's query (permission-v2, e.g. the
 * HealthKit bridge's `patient/Observation.c?category=…|vital-signs`)? Reads are narrowed by the
 * search engine; writes are checked here in memory. Only token parameters (`system|code`, `code`,
 * `|code`, `system|`) are understood; any other restriction does not match (deny by default).
 */
import type { Resource } from 'fhir/r4';
import { evaluate } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { searchParam } from '../fhir/definitions/registry.js';

interface Codingish {
  system?: string;
  code?: string;
  value?: string;
  coding?: Codingish[];
}

export function matchesScopeQuery(resource: Resource, query: ReadonlyArray<readonly [string, string]>): boolean {
  return query.every(([name, value]) => matchesToken(resource, name, value));
}

function matchesToken(resource: Resource, name: string, value: string): boolean {
  const def = searchParam(resource.resourceType, name);
  if (!def || def.type !== 'token' || !def.expression) return false;
  let nodes: unknown[];
  try {
    nodes = evaluate(structuredClone(resource), def.expression, undefined, r4) as unknown[];
  } catch {
    return false;
  }
  const alternatives = value.split(',');
  return nodes.some((node) => codingsOf(node).some((c) => alternatives.some((alt) => tokenMatches(c, alt))));
}

function codingsOf(node: unknown): Array<{ system?: string; code?: string }> {
  if (typeof node === 'string' || typeof node === 'boolean') return [{ code: String(node) }];
  if (!node || typeof node !== 'object') return [];
  const n = node as Codingish;
  if (Array.isArray(n.coding)) return n.coding.map((c) => ({ system: c.system, code: c.code }));
  if (n.code !== undefined) return [{ system: n.system, code: n.code }];
  if (n.value !== undefined) return [{ system: n.system, code: n.value }];
  return [];
}

function tokenMatches(c: { system?: string; code?: string }, token: string): boolean {
  const bar = token.indexOf('|');
  if (bar < 0) return c.code === token;
  const system = token.slice(0, bar);
  const code = token.slice(bar + 1);
  if (system === '') return c.system === undefined && c.code === code;
  if (code === '') return c.system === system;
  return c.system === system && c.code === code;
}
