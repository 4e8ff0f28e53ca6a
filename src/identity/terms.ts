/**
 * Terms of Use acceptance, recorded as a FHIR Consent through the repository (issue 4 §5; G15:
 * "When you log in for the first time, you must accept the Terms of Use", access-spec S2). The
 * Consent is active while the account is; deactivation (G2) sets it inactive and the person must
 * accept again (S14 "renew your consent").
 */
import type { Consent } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';

/**
 * LOINC 57016-8 "Privacy policy acknowledgment Document" marks the acceptance; proxy-grant
 * Consents carry only 59284-0 "Patient Consent" (access-spec §3.3), so the two never mix in a search.
 */
export const TERMS_CATEGORY_SYSTEM = 'http://loinc.org';
export const TERMS_CATEGORY_CODE = '57016-8';
export const TERMS_POLICY_URI = 'https://helsebro.no/vilkar/2024-04-03';

export async function hasAcceptedTerms(db: Queryable, patientId: string): Promise<boolean> {
  const ids = await findMatchingIds(db, 'Consent', `patient=Patient/${patientId}&status=active&category=${TERMS_CATEGORY_SYSTEM}|${TERMS_CATEGORY_CODE}`, SYSTEM_ACCESS, 1);
  return ids.length > 0;
}

export function termsConsent(patientId: string, now = new Date()): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [
      { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
      { coding: [{ system: TERMS_CATEGORY_SYSTEM, code: TERMS_CATEGORY_CODE, display: 'Privacy policy acknowledgment Document' }], text: 'Vilkår for bruk / Terms of use' },
    ],
    patient: { reference: `Patient/${patientId}` },
    dateTime: now.toISOString(),
    performer: [{ reference: `Patient/${patientId}` }],
    policy: [{ uri: TERMS_POLICY_URI }],
    // In force from `dateTime` until withdrawn (status inactive); no period needed.
    provision: { type: 'permit' },
  };
}

export async function recordTermsAcceptance(repo: Repository, patientId: string): Promise<string> {
  const { resource } = await repo.create(termsConsent(patientId), SYSTEM_ACCESS);
  return resource.id!;
}
