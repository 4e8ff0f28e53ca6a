/**
 * What writes leave behind besides the resources, written in the writes' own transaction just
 * before it commits: one AuditEvent per patient and kind of write (S23), and for writes by someone
 * acting for the patient a Provenance naming that person and the patient (issue 5 §5).
 */
import type { AuditEvent, Provenance, Resource } from 'fhir/r4';
import type { WriteInteraction } from '../access/access-context.js';
import { patientCompartmentsOf } from '../fhir/search/compartments.js';
import { buildAuditEvent } from './audit-event.js';

export interface WriteFacts {
  who: string | null;
  clientId: string | null;
  grant: string | null;
  /** The patient the actor acts for, when the actor is someone else (a proxy or a parent). */
  onBehalfOf: string | null;
}

type Kind = 'create' | 'update' | 'delete';
const KIND: Record<WriteInteraction, Kind> = { create: 'create', update: 'update', patch: 'update', delete: 'delete' };
const ACTIVITY: Record<Kind, string> = { create: 'CREATE', update: 'UPDATE', delete: 'DELETE' };

export class WriteLog {
  /** `${patient}|${kind}` → resource references. */
  private readonly touched = new Map<string, string[]>();
  /** Versioned references written on the patient's behalf, per kind. */
  private readonly onBehalf = new Map<Kind, string[]>();

  constructor(private readonly facts: WriteFacts) {}

  add(interaction: WriteInteraction, stored: Resource): void {
    // The log is not logged: server-written AuditEvents and Provenance do not beget more.
    if (stored.resourceType === 'AuditEvent' || stored.resourceType === 'Provenance') return;
    const kind = KIND[interaction];
    const ref = `${stored.resourceType}/${stored.id}`;
    for (const patientId of patientCompartmentsOf(stored)) {
      const key = `${patientId}|${kind}`;
      this.touched.set(key, [...(this.touched.get(key) ?? []), ref]);
    }
    if (this.facts.onBehalfOf && this.facts.who && kind !== 'delete') {
      this.onBehalf.set(kind, [...(this.onBehalf.get(kind) ?? []), `${ref}/_history/${stored.meta?.versionId ?? '1'}`]);
    }
  }

  records(now = new Date()): Array<AuditEvent | Provenance> {
    const recorded = now.toISOString();
    const { who, clientId, grant, onBehalfOf } = this.facts;
    const events: Array<AuditEvent | Provenance> = [...this.touched].map(([key, resources]) => {
      const [patientId, kind] = key.split('|') as [string, Kind];
      return buildAuditEvent({ interaction: kind, patientId, who, clientId, grant, resources, outcome: 'success', recorded });
    });
    for (const [kind, targets] of this.onBehalf) {
      events.push({
        resourceType: 'Provenance',
        target: targets.map((reference) => ({ reference })),
        recorded,
        activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: ACTIVITY[kind] }] },
        agent: [{
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
          who: { reference: who! },
          onBehalfOf: { reference: `Patient/${onBehalfOf}` },
        }],
        ...(grant ? { policy: [grant] } : {}),
      });
    }
    return events;
  }
}
