/**
 * The access context the bridges write with. A bridge token holds only `patient/Observation.c`
 * (access-spec §4.5, S27: nothing flows out to HealthKit or Google Fit), yet a push also writes the
 * Device and Provenance that describe the samples. So the router checks the token's grant per
 * sample, and the store writes with this context: confined to the token's patient, create-only,
 * and only the three resource types a bridge produces. Its read filters exist solely for the
 * conditional-create lookups inside the transaction; nothing read is ever returned to the client.
 */
import type { Device, Observation, Provenance, Resource } from 'fhir/r4';
import type { AccessContext, WriteInteraction } from '../access/access-context.js';
import { forbidden } from '../fhir/errors.js';
import { OBSERVATION_CATEGORY } from './mapping.js';

export const BRIDGE_RESOURCE_TYPES = ['Observation', 'Device', 'Provenance'] as const;
const BRIDGE_CATEGORIES = new Set(['vital-signs', 'activity']);

export function bridgeWriteAccess(patientId: string, actor: string | null): AccessContext {
  const patient = `Patient/${patientId}`;
  return Object.freeze({
    actor,
    patientId,
    filters: Object.freeze([
      { kind: 'types', allowed: BRIDGE_RESOURCE_TYPES },
      // Identifiers are matched only among this patient's resources, so a sample id chosen to
      // collide with another patient's can neither match nor reveal it.
      { kind: 'query', resourceType: 'Observation', query: `subject=${patient}` },
      { kind: 'query', resourceType: 'Device', query: `patient=${patient}` },
      { kind: 'query', resourceType: 'Provenance', query: `agent=${patient}` },
    ] as const),
    checkWrite(interaction: WriteInteraction, resource: Resource): void {
      if (interaction !== 'create') throw forbidden(`A device bridge only creates resources; ${interaction} is not allowed`);
      switch (resource.resourceType) {
        case 'Observation':
          return checkObservation(resource as Observation, patient);
        case 'Device':
          if ((resource as Device).patient?.reference !== patient) throw forbidden('A bridge Device must belong to the token’s patient');
          return;
        case 'Provenance':
          return checkProvenance(resource as Provenance, patient);
        default:
          throw forbidden(`A device bridge does not write ${resource.resourceType}`);
      }
    },
  });
}

function checkObservation(o: Observation, patient: string): void {
  if (o.subject?.reference !== patient) throw forbidden('A bridge Observation must have the token’s patient as subject');
  const categories = (o.category ?? []).flatMap((c) => c.coding ?? []);
  if (categories.length === 0 || !categories.every((c) => c.system === OBSERVATION_CATEGORY && BRIDGE_CATEGORIES.has(c.code ?? ''))) {
    throw forbidden('A bridge Observation must be in the vital-signs or activity category');
  }
}

function checkProvenance(p: Provenance, patient: string): void {
  if (!p.target.every((t) => t.reference?.startsWith('Observation/'))) throw forbidden('A bridge Provenance may only target Observations');
  if (!p.agent.some((a) => a.who.reference === patient)) throw forbidden('A bridge Provenance must name the token’s patient');
}
