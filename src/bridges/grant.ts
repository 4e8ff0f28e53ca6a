/**
 * Does the token's grant admit this Observation? SMART v2 granular scopes
 * (`patient/Observation.c?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs`)
 * restrict writes by search parameters. The bridge checks every sample before writing, with the
 * auth module's own matcher (`matchesScopeQuery`: alternatives ORed, pairs ANDed, anything it
 * cannot evaluate denies), so a sample outside the grant is reported rather than failing the push.
 */
import type { Observation } from 'fhir/r4';
import { matchesScopeQuery } from '../identity/scope-match.js';
import type { ResourceScope } from '../identity/scopes.js';

export type Restrictions = ReadonlyArray<ResourceScope['query']>;

/**
 * Category and code values that can never change (deep-frozen by their maker, resources.ts): the
 * converters give every Observation of a mapping row the same two, so the checker can remember its
 * answer by their identity instead of serialising them for every sample.
 */
const IMMUTABLE = new WeakSet<object>();

/** Deep-freezes `value` and registers it as immutable for the grant checker's memo. */
export function immutableConcept<T extends object>(value: T): T {
  deepFreeze(value);
  IMMUTABLE.add(value);
  return value;
}

function deepFreeze(value: unknown): void {
  if (!value || typeof value !== 'object' || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

/**
 * A checker for one push. `[]` means unrestricted (what `scopeRestrictions` returns for an
 * unrestricted scope). Bridge Observations differ only in category and code, so when the grant
 * restricts nothing else the answer is remembered per category and code (by identity when both are
 * immutable, else by their JSON): FHIRPath runs a handful of times per push, not once per sample.
 */
export function grantChecker(restrictions: Restrictions): (observation: Observation) => boolean {
  if (restrictions.length === 0) return () => true;
  const byConcept = restrictions.every((q) => q.every(([name]) => name === 'category' || name === 'code'));
  const admits = (observation: Observation) => restrictions.some((q) => matchesScopeQuery(observation, q));
  if (!byConcept) return admits;
  const memo = new Map<string, boolean>();
  const byIdentity = new Map<object, Map<object, boolean>>();
  return (observation) => {
    const { category, code } = observation;
    if (category && code && IMMUTABLE.has(category) && IMMUTABLE.has(code)) {
      let byCode = byIdentity.get(category);
      if (!byCode) byIdentity.set(category, (byCode = new Map()));
      let admitted = byCode.get(code);
      if (admitted === undefined) byCode.set(code, (admitted = admits(observation)));
      return admitted;
    }
    const key = JSON.stringify([category, code]);
    let admitted = memo.get(key);
    if (admitted === undefined) memo.set(key, (admitted = admits(observation)));
    return admitted;
  };
}

/** A readable form of the grant for rejection reasons. */
export function describeGrant(restrictions: Restrictions): string {
  return restrictions.map((pairs) => `patient/Observation.c?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`).join(' or ');
}
