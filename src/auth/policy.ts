/**
 * What a citizen's grant finally contains: requested ∩ client policy ∩ the actor's ceiling
 * (issue 4 §3; access-spec §4.5). Consent administration goes to the first-party portal only,
 * whatever a third-party client registered (access-spec §4.5 "Self").
 */
import type { Client } from './clients.js';
import type { ActingOption } from '../identity/people.js';
import { intersectScopes, parseScopes, type Scope } from '../identity/scopes.js';

// Basic holds the citizen's account records (notification preferences, portal settings, notifications;
// issue 14): "third-party apps cannot touch any of it".
const FIRST_PARTY_ONLY_TYPES = new Set(['Consent', 'Basic']);

export function finalScopes(client: Client, requestedWithinClient: string, option: ActingOption): Scope[] {
  const granted = intersectScopes(parseScopes(requestedWithinClient), parseScopes(option.ceiling));
  if (client.firstParty) return granted;
  return granted.filter((s) => s.kind !== 'resource' || !FIRST_PARTY_ONLY_TYPES.has(s.resourceType));
}

const CLINICIAN_NAMED = new Set(['openid', 'fhirUser', 'profile', 'offline_access', 'online_access']);

/**
 * What a clinician's grant contains (issue 5 §4): requested ∩ client (already applied) ∩ `user/`
 * scopes and identity/refresh scopes. Never `patient/` or `system/` scopes, no launch context, and
 * Consent at most read and search (consent administration is the citizen's own).
 */
export function clinicianScopes(requestedWithinClient: string): Scope[] {
  return parseScopes(requestedWithinClient).flatMap((s): Scope[] => {
    if (s.kind === 'named') return CLINICIAN_NAMED.has(s.name) ? [s] : [];
    if (s.context !== 'user') return [];
    if (s.resourceType !== 'Consent') return [s];
    const interactions = s.interactions.filter((i) => i === 'r' || i === 's');
    if (interactions.length === 0) return [];
    return [{ ...s, interactions, version: interactions.length === s.interactions.length ? s.version : 'v2' }];
  });
}

/** True when the request names a `user/` resource scope: a clinician's request, logged in through HelseID. */
export function hasUserScopes(scopes: readonly Scope[]): boolean {
  return scopes.some((s) => s.kind === 'resource' && s.context === 'user');
}

/** A `patient/` scope or `launch/patient` means the token must carry one patient (app-launch §launch context). */
export function needsPatientContext(scope: string): boolean {
  return parseScopes(scope).some((s) => (s.kind === 'resource' && s.context === 'patient') || (s.kind === 'named' && s.name === 'launch/patient'));
}
