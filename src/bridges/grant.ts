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
 * A checker for one push. `[]` means unrestricted (what `scopeRestrictions` returns for an
 * unrestricted scope). Bridge Observations differ only in category and code, so when the grant
 * restricts nothing else the answer is remembered per category and code: FHIRPath runs a handful of
 * times per push, not once per sample.
 */
export function grantChecker(restrictions: Restrictions): (observation: Observation) => boolean {
  if (restrictions.length === 0) return () => true;
  const byConcept = restrictions.every((q) => q.every(([name]) => name === 'category' || name === 'code'));
  const memo = new Map<string, boolean>();
  return (observation) => {
    const key = byConcept ? JSON.stringify([observation.category, observation.code]) : null;
    const known = key === null ? undefined : memo.get(key);
    if (known !== undefined) return known;
    const admitted = restrictions.some((q) => matchesScopeQuery(observation, q));
    if (key !== null) memo.set(key, admitted);
    return admitted;
  };
}

/** A readable form of the grant for rejection reasons. */
export function describeGrant(restrictions: Restrictions): string {
  return restrictions.map((pairs) => `patient/Observation.c?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`).join(' or ');
}
