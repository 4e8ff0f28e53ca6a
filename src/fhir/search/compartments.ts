/**
 * Which Patients' compartments hold a resource, per the R4 Patient CompartmentDefinition: the
 * Patients referenced through the type's compartment parameters (a Patient is in its own).
 * See: https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
import type { Resource } from 'fhir/r4';
import { patientCompartmentParams, RESOURCE_TYPES, searchParam } from '../definitions/registry.js';
import { typedParam } from './expressions.js';
import { hasAnyKey } from './simple-path.js';
import { parseReference } from './extract.js';

/**
 * Membership for access decisions is decided by `patient`/`subject` only, not by author, performer,
 * sender or recipient (access-spec §4.7): otherwise a parent's own token would see messages they
 * sent *about* their child. Types without those parameters fall back to the CompartmentDefinition.
 */
export function accessCompartmentParams(type: string): string[] {
  const own = ['patient', 'subject'].filter((c) => searchParam(type, c)?.type === 'reference');
  return own.length > 0 ? own : [...patientCompartmentParams(type)];
}

/** `accessCompartmentParams` per type, compiled once: every write asks for its resource's compartments. */
const compartmentParams = new Map<string, Array<NonNullable<ReturnType<typeof typedParam>>>>();

function compartmentParamsOf(type: string): Array<NonNullable<ReturnType<typeof typedParam>>> {
  let list = compartmentParams.get(type);
  if (!list) {
    list = accessCompartmentParams(type).flatMap((code) => typedParam(type, code) ?? []);
    compartmentParams.set(type, list);
  }
  return list;
}

/** Types whose resources belong to patients (access filters confine them to the patient). */
export const PATIENT_SCOPED_TYPES: string[] = RESOURCE_TYPES.filter((t) => t === 'Patient' || patientCompartmentParams(t).length > 0);

export function patientCompartmentsOf(resource: Resource): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  const ids = new Set<string>();
  for (const param of compartmentParamsOf(resource.resourceType)) {
    if (param.keys !== null && !hasAnyKey(resource, param.keys)) continue;
    for (const v of param.evaluate(resource)) {
      const ref = (v as { reference?: unknown } | null)?.reference;
      // An absolute URL points at another server's Patient, never at ours (no cross-server membership).
      if (typeof ref !== 'string' || /^[a-z][a-z0-9+.-]*:/i.test(ref)) continue;
      const parsed = parseReference(ref);
      if (parsed?.type === 'Patient') ids.add(parsed.id);
    }
  }
  return [...ids].sort();
}
