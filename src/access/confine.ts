/**
 * Writes stay in the token's patient's record (access-spec §4.7, §5.2): a patient-side write whose
 * resource names, in ANY of its type's Patient-compartment references (Appointment.participant.actor,
 * Communication.recipient, …; R4 CompartmentDefinition patient), a Patient other than the token's,
 * or a RelatedPerson who is not one of that patient's, is refused with 403. Otherwise a proxy could
 * book an appointment into a stranger's record and log (issue 10 hole 3). The access context's own
 * check only looks at `subject`/`patient` (membership for reads, §4.7); this rule looks at all of them.
 */
import type { RelatedPerson, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import { patientCompartmentParams, searchParam } from '../fhir/definitions/registry.js';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { compiledParam } from '../fhir/search/expressions.js';
import { parseReference } from '../fhir/search/extract.js';
import { forbidden403 } from './authorship.js';

export interface NamedPerson {
  type: 'Patient' | 'RelatedPerson';
  id: string;
  /** The FHIRPath of the compartment parameter that names it, for the error. */
  expression: string;
}

/** Pure: every Patient and RelatedPerson the resource names through its Patient-compartment parameters. */
export function compartmentPersons(resource: Resource): NamedPerson[] {
  const type = resource.resourceType;
  const found: NamedPerson[] = [];
  // A Patient is in its own compartment only; its `link` is a server-owned field (server-owned.ts).
  const params = type === 'Patient' ? [] : patientCompartmentParams(type);
  for (const code of params) {
    const compiled = compiledParam(type, code);
    if (!compiled) continue;
    for (const v of compiled.evaluate(resource)) {
      const ref = (v as { reference?: unknown } | null)?.reference;
      if (typeof ref !== 'string' || ref.startsWith('#')) continue;
      // Absolute URLs count too: `https://…/Patient/x` names Patient x whatever server it claims.
      const parsed = parseReference(ref);
      if (parsed && (parsed.type === 'Patient' || parsed.type === 'RelatedPerson')) {
        found.push({ type: parsed.type, id: parsed.id, expression: searchParam(type, code)?.expression?.split('|')[0]?.trim() ?? `${type}.${code}` });
      }
    }
  }
  return found;
}

export const confineToPatientRule: WriteRule = async ({ interaction, resource, access }, tx) => {
  if (access.side !== 'patient' || interaction === 'delete') return;
  const own = access.patientId;
  const why = (what: string, expression: string) =>
    forbidden403(`${expression} names ${what}; a write by or for a patient may only name this token's patient (access-spec §4.7, §5.2)`, expression);
  if (!own) throw why('a patient while the token has no patient context', resource.resourceType);
  const checked = new Set<string>();
  for (const person of compartmentPersons(resource)) {
    if (person.type === 'Patient') {
      if (person.id !== own) throw why(`Patient/${person.id}`, person.expression);
      continue;
    }
    if (checked.has(person.id)) continue;
    checked.add(person.id);
    // The same answer whether the RelatedPerson is missing or someone else's: nothing leaks.
    const rp = await tx.read<RelatedPerson>('RelatedPerson', person.id, SYSTEM_ACCESS).catch(() => null);
    if (rp?.patient?.reference !== `Patient/${own}`) throw why(`RelatedPerson/${person.id}, who is not a related person of this patient`, person.expression);
  }
};
