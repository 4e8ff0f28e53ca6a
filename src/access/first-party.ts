/**
 * Grant administration belongs to the citizen through the first-party portal only (issue 10 hole 5;
 * access-spec §4.5 "`Consent.*` goes only to the first-party portal client", A5, S32): writes of
 * Consents (proxy grants, terms acceptance, parental requests) and of proxy RelatedPersons
 * (v3-RoleCode POWATT) by any other client of a citizen or clinician are 403, whatever its scopes.
 * Backend (`system`) clients keep their path: a clinic's registry records assigned fullmakt and
 * paper forms (S9), and the grant rules still judge what they write. Judged in the access decision's
 * `checkWrite`, so plain, conditional and every batch/transaction entry's write are covered.
 */
import type { Resource } from 'fhir/r4';
import { forbidden } from '../fhir/errors.js';
import { PROXY_RELATIONSHIP } from './gates.js';

/** True when writing this resource is grant administration. */
export function isGrantAdministration(resource: Resource | undefined): boolean {
  if (!resource) return false;
  if (resource.resourceType === 'Consent') return true;
  if (resource.resourceType !== 'RelatedPerson') return false;
  const relationship = (resource as { relationship?: Array<{ coding?: Array<{ system?: string; code?: string }> }> }).relationship ?? [];
  return relationship.some((r) => r.coding?.some((c) => c.system === PROXY_RELATIONSHIP.system && c.code === PROXY_RELATIONSHIP.code));
}

/** 403 unless a grant-administration write comes from the first-party client (or a backend system). */
export function checkGrantAdministrationClient(
  who: { kind: string; clientId: string },
  firstPartyClientId: string | undefined,
  resource: Resource,
  previous: Resource | undefined,
): void {
  if (who.kind === 'system' || (firstPartyClientId !== undefined && who.clientId === firstPartyClientId)) return;
  if (isGrantAdministration(resource) || isGrantAdministration(previous)) {
    throw forbidden(`Writing ${resource.resourceType} (grant administration) is done by the citizen in the Helsebro portal only; this app may not do it whatever its scopes`);
  }
}
