/**
 * Deactivating and reactivating a citizen's account (S13, S14; gates G2, G3).
 *
 * `$deactivate` withdraws the citizen's consent to the service: the account-state extension turns
 * `deactivated`, the Terms of Use Consent turns inactive, and every active proxy grant is suspended
 * (status inactive). Access for the patient, parents and proxies ends on the next request.
 * `$reactivate` (or accepting the terms again at login) restores the patient's own access only;
 * suspended proxy grants stay inactive until the patient re-confirms each one (A10: "proxy grants
 * stay suspended until the patient re-confirms them").
 */
import type { Consent, Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { hasAcceptedTerms, recordTermsAcceptance, TERMS_CATEGORY_CODE, TERMS_CATEGORY_SYSTEM } from '../identity/terms.js';
import { EXT, isDeactivated, proxyLevelOf } from './gates.js';

export const SUSPENDED_NOTE = 'Suspended when the patient deactivated their account; re-confirm to restore (G3)';

function withAccountState(p: Patient, state: 'active' | 'deactivated'): Patient {
  const extension = (p.extension ?? []).filter((e) => e.url !== EXT.accountState);
  extension.push({ url: EXT.accountState, valueCode: state });
  return { ...p, extension };
}

export interface AccountChange {
  patient: Patient;
  /** Consents whose status this change set to inactive. */
  suspended: string[];
}

export async function deactivateAccount(repo: Repository, patientId: string): Promise<AccountChange> {
  return repo.transaction(async (tx) => {
    const patient = await tx.read<Patient>('Patient', patientId, SYSTEM_ACCESS);
    const suspended: string[] = [];
    const ids = await findMatchingIds(tx.queryable, 'Consent', `patient=Patient/${patientId}&status=active`, SYSTEM_ACCESS, 1000);
    for (const id of ids) {
      const consent = await tx.read<Consent>('Consent', id, SYSTEM_ACCESS);
      const isTerms = consent.category?.some((c) => c.coding?.some((x) => x.system === TERMS_CATEGORY_SYSTEM && x.code === TERMS_CATEGORY_CODE));
      if (!isTerms && !proxyLevelOf(consent)) continue;
      const meta = isTerms ? consent.meta : { ...consent.meta, tag: [...(consent.meta?.tag ?? []), { system: GRANT_STATE, code: 'suspended', display: 'Suspended by account deactivation' }] };
      await tx.update<Consent>({ ...consent, status: 'inactive', ...(meta ? { meta } : {}) }, SYSTEM_ACCESS);
      suspended.push(`Consent/${id}`);
    }
    const updated = isDeactivated(patient) ? patient : (await tx.update<Patient>(withAccountState(patient, 'deactivated'), SYSTEM_ACCESS)).resource;
    return { patient: updated, suspended };
  });
}

/** Tags a proxy grant suspended by deactivation (as opposed to revoked by the patient). */
export const GRANT_STATE = 'https://fhir.helsebro.no/CodeSystem/grant-state';

export async function reactivateAccount(repo: Repository, patientId: string): Promise<AccountChange> {
  return repo.transaction(async (tx) => {
    const patient = await tx.read<Patient>('Patient', patientId, SYSTEM_ACCESS);
    const updated = isDeactivated(patient) ? (await tx.update<Patient>(withAccountState(patient, 'active'), SYSTEM_ACCESS)).resource : patient;
    if (!(await hasAcceptedTerms(tx.queryable, patientId))) await recordTermsAcceptance(tx, patientId);
    return { patient: updated, suspended: [] };
  });
}
