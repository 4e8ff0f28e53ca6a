/**
 * Eligibility re-checked on refresh (access-spec §4.2: gates are evaluated at authorize, at
 * refresh and on every request). The self path's gates live here: the patient still exists and is
 * alive (G1) and, for the citizen's own grant, the Terms of Use Consent is still active (G2/G15).
 * The access engine supplies its own gate for proxies and parents through the same type.
 */
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Grant } from './grants.js';
import { hasAcceptedTerms } from './terms.js';

export type GrantGate = (grant: Grant) => Promise<boolean>;

export function selfGate(db: Queryable, repo: Repository): GrantGate {
  return async (grant) => {
    if (grant.kind !== 'patient') return true;
    const patientId = grant.patientId ?? (grant.fhirUser?.startsWith('Patient/') ? grant.fhirUser.slice('Patient/'.length) : null);
    if (!patientId) return true;
    const patient = await repo.read<Patient>('Patient', patientId, SYSTEM_ACCESS).catch(() => null);
    if (!patient || patient.deceasedBoolean === true || patient.deceasedDateTime) return false;
    if (grant.fhirUser === `Patient/${patientId}`) return hasAcceptedTerms(db, patientId);
    return true;
  };
}
