/**
 * Terms of Use acceptance, recorded as a FHIR Consent through the repository (issue 4 §5; G15:
 * "When you log in for the first time, you must accept the Terms of Use", access-spec S2). The
 * Consent is active while the account is; deactivation (G2) sets it inactive and the person must
 * accept again (S14 "renew your consent").
 *
 * Versioned (issue 14; terms §9 "If the services are extended for new purposes … you will be asked
 * to renew your consent"): each acceptance carries the version it accepted as an identifier
 * (TERMS_VERSION_SYSTEM) and the version's text as `policy.uri`. Acceptance is current only when it is of the configured version
 * (`TERMS_VERSION`); a newer version sends the citizen's next login through the terms page again,
 * which records a new Consent beside the old one, so the citizen sees each date and version.
 */
import type { Consent } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { executeSearch } from '../fhir/search/execute.js';

/**
 * LOINC 57016-8 "Privacy policy acknowledgment Document" marks the acceptance; proxy-grant
 * Consents carry only 59284-0 "Patient Consent" (access-spec §3.3), so the two never mix in a search.
 */
export const TERMS_CATEGORY_SYSTEM = 'http://loinc.org';
export const TERMS_CATEGORY_CODE = '57016-8';
export const TERMS_POLICY_URI = 'https://helsebro.no/vilkar/2024-04-03';
/** The version of the terms in force before versioning; an acceptance without a version tag accepted it. */
export const DEFAULT_TERMS_VERSION = '2024-04-03';
export const TERMS_VERSION_SYSTEM = 'https://fhir.helsebro.no/terms-version';

export interface TermsOfUse { version: string; url: string }

/**
 * The configured terms, set once at start from the configuration (createApp); one value for the
 * whole process, because the gate (access/relations.ts), the login flow and account changes all ask.
 */
let configured: TermsOfUse = { version: DEFAULT_TERMS_VERSION, url: TERMS_POLICY_URI };

export function configureTerms(terms: TermsOfUse): void {
  configured = { ...terms };
}

export function currentTerms(): TermsOfUse {
  return configured;
}

/** The version a terms Consent accepted (untagged: the version before versioning). */
export function acceptedVersion(consent: Consent): string {
  return consent.identifier?.find((i) => i.system === TERMS_VERSION_SYSTEM)?.value ?? DEFAULT_TERMS_VERSION;
}

/** The patient's active terms acceptances (several after re-acceptances). */
export async function termsAcceptances(db: Queryable, patientId: string): Promise<Consent[]> {
  const bundle = await executeSearch(db, {
    resourceType: 'Consent',
    params: [['patient', `Patient/${patientId}`], ['status', 'active'], ['category', `${TERMS_CATEGORY_SYSTEM}|${TERMS_CATEGORY_CODE}`], ['_total', 'none'], ['_count', '100']],
    access: SYSTEM_ACCESS, fhirBase: '', strict: true, defaultCount: 100, maxCount: 100,
  });
  return (bundle.entry ?? []).map((e) => e.resource as Consent);
}

/** none = never accepted (or withdrawn); outdated = accepted an earlier version only; current. */
export type TermsState = 'none' | 'outdated' | 'current';

export async function termsState(db: Queryable, patientId: string, version = configured.version): Promise<TermsState> {
  const accepted = await termsAcceptances(db, patientId);
  if (accepted.length === 0) return 'none';
  return accepted.some((c) => acceptedVersion(c) === version) ? 'current' : 'outdated';
}

/** True when the patient has accepted the configured version of the terms. */
export async function hasAcceptedTerms(db: Queryable, patientId: string): Promise<boolean> {
  return (await termsState(db, patientId)) === 'current';
}

export function termsConsent(patientId: string, now = new Date(), terms: TermsOfUse = configured): Consent {
  return {
    resourceType: 'Consent',
    // The version accepted, as the policy's identifier: which text (`policy.uri`) in which version.
    identifier: [{ system: TERMS_VERSION_SYSTEM, value: terms.version }],
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [
      { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
      { coding: [{ system: TERMS_CATEGORY_SYSTEM, code: TERMS_CATEGORY_CODE, display: 'Privacy policy acknowledgment Document' }], text: 'Vilkår for bruk / Terms of use' },
    ],
    patient: { reference: `Patient/${patientId}` },
    dateTime: now.toISOString(),
    performer: [{ reference: `Patient/${patientId}` }],
    policy: [{ uri: terms.url }],
    // In force from `dateTime` until withdrawn (status inactive); no period needed.
    provision: { type: 'permit' },
  };
}

export async function recordTermsAcceptance(repo: Repository, patientId: string): Promise<string> {
  const { resource } = await repo.create(termsConsent(patientId), SYSTEM_ACCESS);
  return resource.id!;
}
