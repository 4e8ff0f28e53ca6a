/**
 * "A fødselsnummer or D-number identifies one Patient" (access-spec §5.2): a second Patient carrying
 * a national identifier that another Patient already has is refused with 409 `duplicate`, whoever
 * writes (create, update, transaction entries). Login finds a person's own record by this number
 * (identity/people.ts findPatientByPid), so two Patients with one number would make a person "self"
 * for a stranger's record, or for none.
 *
 * Race-free on PostgreSQL: inside the write's transaction, an advisory lock per identifier value is
 * taken before the lookup and held until commit, so of two concurrent writers the second looks only
 * after the first has committed (or rolled back). PGlite is one connection: writes are serial anyway.
 */
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import { FhirError } from '../fhir/errors.js';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM } from '../fhir/validation/fnr.js';
import { isNationalId } from '../identity/age.js';

/** The national identifier values a Patient carries, sorted (locks are always taken in one order: no deadlock). */
export function nationalIdsOf(p: Patient): string[] {
  return [...new Set((p.identifier ?? []).filter(isNationalId).map((i) => i.value!))].sort();
}

export const uniqueNationalIdRule: WriteRule = async ({ interaction, resource }, tx) => {
  if (interaction === 'delete' || resource.resourceType !== 'Patient') return;
  for (const value of nationalIdsOf(resource as Patient)) {
    if (tx.kind === 'postgres') await tx.queryable.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`national-id|${value}`]);
    const v = encodeURIComponent(value);
    // Either system: the same eleven digits are one person whether filed as FNR or DNR.
    const ids = await findMatchingIds(tx.queryable, 'Patient', `identifier=${FNR_SYSTEM}|${v},${DNR_SYSTEM}|${v}`, SYSTEM_ACCESS, 2);
    if (ids.some((id) => id !== resource.id)) {
      // Neither the number nor the other Patient's id is echoed: the writer learns only that it is taken.
      throw new FhirError(409, { code: 'duplicate', diagnostics: 'Another Patient already carries this fødselsnummer/D-number; a national identifier identifies one Patient (access-spec §5.2)', expression: ['Patient.identifier'] });
    }
  }
};
