/**
 * What a citizen's grant finally contains: requested ∩ client policy ∩ the actor's ceiling
 * (issue 4 §3; access-spec §4.5). Consent administration goes to the first-party portal only,
 * whatever a third-party client registered (access-spec §4.5 "Self").
 */
import type { Client } from './clients.js';
import type { ActingOption } from './people.js';
import { intersectScopes, parseScopes, type Scope } from './scopes.js';

const FIRST_PARTY_ONLY_TYPES = new Set(['Consent']);

export function finalScopes(client: Client, requestedWithinClient: string, option: ActingOption): Scope[] {
  const granted = intersectScopes(parseScopes(requestedWithinClient), parseScopes(option.ceiling));
  if (client.firstParty) return granted;
  return granted.filter((s) => s.kind !== 'resource' || !FIRST_PARTY_ONLY_TYPES.has(s.resourceType));
}

/** A `patient/` scope or `launch/patient` means the token must carry one patient (app-launch §launch context). */
export function needsPatientContext(scope: string): boolean {
  return parseScopes(scope).some((s) => (s.kind === 'resource' && s.context === 'patient') || (s.kind === 'named' && s.name === 'launch/patient'));
}
