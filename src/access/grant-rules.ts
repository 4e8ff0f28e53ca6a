/**
 * Business rules for proxy grants (fullmakt), checked on every write of a proxy-grant Consent,
 * whoever writes it (the grantor through the portal, or a system client registering a paper form):
 * "Anyone over the age of 16 who is competent to give consent, can authorize others over the age
 * of 18" (S3; G5, G6; A11 reads "over" as "has turned"). Violations are 422 business-rule.
 * Revoking (status inactive) is always allowed: S8 "You can withdraw access at any time".
 */
import type { Consent, Patient, RelatedPerson, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { businessRule } from '../fhir/errors.js';
import { ageInYears, birthDateOf } from '../identity/age.js';
import { ADULT_AGE, CONSENT_AGE, PROXY_RELATIONSHIP, proxyLevelOf } from './gates.js';
import { isProxyLevel } from './policy.js';

/** The grant rules as a repository write rule (handed in at assembly, src/server.ts). */
export const proxyGrantRule: WriteRule = async (change, tx) => {
  if (change.interaction !== 'delete') await checkGrantRules(change.resource, tx);
};

export async function checkGrantRules(resource: Resource, repo: Repository, now = new Date()): Promise<void> {
  if (resource.resourceType !== 'Consent') return;
  const consent = resource as Consent;
  const level = proxyLevelOf(consent);
  if (level === null || consent.status !== 'active') return;
  if (!isProxyLevel(level)) throw businessRule(`Unknown proxy level "${level}"; use standard, read, communicate or full`, 'Consent.policyRule.coding');

  const patientRef = consent.patient?.reference;
  const grantor = patientRef?.startsWith('Patient/') ? await repo.read<Patient>('Patient', patientRef.slice(8), SYSTEM_ACCESS).catch(() => null) : null;
  if (!grantor) throw businessRule('A proxy grant needs the grantor as Consent.patient (an existing Patient)', 'Consent.patient');
  const grantorBirth = birthDateOf(grantor);
  if (!grantorBirth || ageInYears(grantorBirth, now) < CONSENT_AGE) {
    throw businessRule('The grantor must have turned 16 to authorise others (S3, G6)', 'Consent.patient');
  }

  const actors = (consent.provision?.actor ?? []).map((a) => a.reference?.reference ?? '');
  if (actors.length !== 1 || !actors[0]!.startsWith('RelatedPerson/')) {
    throw businessRule('A proxy grant names exactly one RelatedPerson in Consent.provision.actor', 'Consent.provision.actor');
  }
  const grantee = await repo.read<RelatedPerson>('RelatedPerson', actors[0]!.slice('RelatedPerson/'.length), SYSTEM_ACCESS).catch(() => null);
  if (!grantee) throw businessRule(`${actors[0]} does not exist`, 'Consent.provision.actor[0].reference');
  if (grantee.patient?.reference !== patientRef) throw businessRule('The proxy RelatedPerson must belong to the grantor (RelatedPerson.patient)', 'Consent.provision.actor[0].reference');
  if (!grantee.relationship?.some((r) => r.coding?.some((c) => c.system === PROXY_RELATIONSHIP.system && c.code === PROXY_RELATIONSHIP.code))) {
    throw businessRule('The proxy RelatedPerson must have relationship v3-RoleCode POWATT', 'Consent.provision.actor[0].reference');
  }
  const granteeBirth = birthDateOf(grantee);
  if (!granteeBirth) throw businessRule('The proxy’s age is unknown: give RelatedPerson.birthDate or a fødselsnummer', 'RelatedPerson.birthDate');
  if (ageInYears(granteeBirth, now) < ADULT_AGE) throw businessRule('The proxy must have turned 18 (S3, G5)', 'RelatedPerson.birthDate');
}
