/**
 * Account and grant administration belong to the citizen through the first-party portal only
 * (issue 10 hole 5; access-spec §4.5 "`Consent.*` goes only to the first-party portal client", A5,
 * S13/S14/S32): `$deactivate`, `$reactivate`, writes of Consents (proxy grants, terms acceptance,
 * parental requests) and of proxy RelatedPersons (v3-RoleCode POWATT). Any other client of a
 * citizen or clinician gets 403, whatever scopes it was granted. Backend (`system`) clients keep
 * their path: a clinic's registry records assigned fullmakt and paper forms (S9), and the grant
 * rules still judge what they write.
 */
import type { Resource } from 'fhir/r4';
import type { AccessContext } from '../access/access-context.js';
import { forbidden } from '../fhir/errors.js';
import { PORTAL_CLIENT_ID } from './clients.js';
import type { Principal } from '../identity/principal.js';

/** Power of attorney (v3-RoleCode), the relationship of a proxy RelatedPerson (access-spec §3.3). */
const POWATT = { system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'POWATT' } as const;

export function isFirstParty(principal: Pick<Principal, 'clientId'>): boolean {
  return principal.clientId === PORTAL_CLIENT_ID;
}

/** True when writing this resource is grant or account administration. */
export function isGrantAdministration(resource: Resource | undefined): boolean {
  if (!resource) return false;
  if (resource.resourceType === 'Consent') return true;
  if (resource.resourceType !== 'RelatedPerson') return false;
  const relationship = (resource as { relationship?: Array<{ coding?: Array<{ system?: string; code?: string }> }> }).relationship ?? [];
  return relationship.some((r) => r.coding?.some((c) => c.system === POWATT.system && c.code === POWATT.code));
}

/** 403 unless the token came through the portal (system tokens are not citizen-side and pass). */
export function requireFirstParty(principal: Pick<Principal, 'clientId' | 'kind'>, what: string): void {
  if (principal.kind === 'system' || isFirstParty(principal)) return;
  throw forbidden(`${what} is done by the citizen in the Helsebro portal only; this app may not do it whatever its scopes`);
}

/**
 * The access context with the first-party rule in front of every write (plain writes, conditional
 * writes and every batch/transaction entry go through `checkWrite`).
 */
export function withFirstPartyRule(principal: Principal, access: AccessContext): AccessContext {
  if (principal.kind === 'system' || isFirstParty(principal)) return access;
  return Object.freeze({
    actor: access.actor,
    patientId: access.patientId,
    filters: access.filters,
    checkWrite(interaction, resource, previous) {
      if (isGrantAdministration(resource) || isGrantAdministration(previous)) {
        requireFirstParty(principal, `Writing ${resource.resourceType} (grant administration)`);
      }
      return access.checkWrite(interaction, resource, previous);
    },
    ...(access.recordWrite ? { recordWrite: access.recordWrite.bind(access) } : {}),
  } satisfies AccessContext);
}
