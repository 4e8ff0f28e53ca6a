/**
 * Account and grant administration belong to the citizen through the first-party portal only
 * (issue 10 hole 5; access-spec §4.5 "`Consent.*` goes only to the first-party portal client", A5,
 * S13/S14/S32): `$deactivate`, `$reactivate`, writes of Consents (proxy grants, terms acceptance,
 * parental requests) and of proxy RelatedPersons (v3-RoleCode POWATT). Any other client of a
 * citizen or clinician gets 403, whatever scopes it was granted. Backend (`system`) clients keep
 * their path: a clinic's registry records assigned fullmakt and paper forms (S9), and the grant
 * rules still judge what they write. Grant-administration writes are judged in the access decision
 * (src/access/first-party.ts); the account operations here, in front of it.
 */
import { forbidden } from '../fhir/errors.js';
import { PORTAL_CLIENT_ID } from './clients.js';
import type { Principal } from '../identity/principal.js';

export function isFirstParty(principal: Pick<Principal, 'clientId'>): boolean {
  return principal.clientId === PORTAL_CLIENT_ID;
}

/** 403 unless the token came through the portal (system tokens are not citizen-side and pass). */
export function requireFirstParty(principal: Pick<Principal, 'clientId' | 'kind'>, what: string): void {
  if (principal.kind === 'system' || isFirstParty(principal)) return;
  throw forbidden(`${what} is done by the citizen in the Helsebro portal only; this app may not do it whatever its scopes`);
}
