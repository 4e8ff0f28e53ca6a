/**
 * A search by a patient-context token that names another patient (`patient=`, `subject=`, or the
 * compartment `Patient/{other}/…`) is refused with 403 rather than answered empty (access-spec
 * §4.7): the answer then does not depend on whether that patient exists or has data.
 */
import type { AccessContext } from './access-context.js';
import { forbidden } from '../fhir/errors.js';

const PATIENT_PARAMS = new Set(['patient', 'subject', 'patient:Patient', 'subject:Patient']);

function namedPatient(name: string, value: string): string | null {
  const v = value.replace(/^https?:\/\/[^?#]*?\/(?=Patient\/)/, '');
  if (v.startsWith('Patient/')) return v.slice('Patient/'.length).split('/')[0] ?? null;
  if (!v.includes('/') && (name.startsWith('patient') || name.endsWith(':Patient'))) return v;
  return null;
}

export function assertOwnPatient(access: AccessContext, params: ReadonlyArray<readonly [string, string]>, compartmentId?: string): void {
  const own = access.patientId;
  if (!own) return;
  if (compartmentId !== undefined && compartmentId !== own) throw forbidden(`This token is for one patient; Patient/${compartmentId} is another`);
  for (const [name, raw] of params) {
    if (!PATIENT_PARAMS.has(name)) continue;
    for (const value of raw.split(',')) {
      const id = namedPatient(name, value);
      if (id !== null && id !== own) throw forbidden(`This token is for one patient; the search parameter "${name}" names Patient/${id}`);
    }
  }
}
