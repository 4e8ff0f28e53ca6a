/**
 * What writes leave behind besides the resources, written in the writes' own transaction just
 * before it commits: one access-log row per patient and kind of write (S23), and for writes by
 * someone acting for the patient a Provenance naming that person and the patient (issue 5 §5).
 */
import type { Provenance, Resource } from 'fhir/r4';
import type { AccessContext, WriteInteraction, WriteRecorder } from '../access/access-context.js';
import { patientCompartmentsOf } from '../fhir/search/compartments.js';
import { insertRows, type ActorFacts } from './access-log.js';
import type { AccessLogRow, AuditAction } from './audit-event.js';

export interface WriteFacts extends Omit<ActorFacts, 'contextPatientId'> {
  /** The patient the actor acts for, when the actor is someone else (a proxy or a parent). */
  onBehalfOf: string | null;
}

type Kind = 'create' | 'update' | 'delete';
const KIND: Record<WriteInteraction, Kind> = { create: 'create', update: 'update', patch: 'update', delete: 'delete' };
const ACTIVITY: Record<Kind, string> = { create: 'CREATE', update: 'UPDATE', delete: 'DELETE' };
const ACTION: Record<Kind, AuditAction> = { create: 'C', update: 'U', delete: 'D' };

export class WriteLog {
  /** `${patient}|${kind}` → resource references. */
  private readonly touched = new Map<string, string[]>();
  /** Versioned references written on the patient's behalf, per kind. */
  private readonly onBehalf = new Map<Kind, string[]>();

  constructor(private readonly facts: WriteFacts) {}

  add(interaction: WriteInteraction, stored: Resource): void {
    // Server-written Provenance does not beget more log (the log itself is not a resource any more).
    if (stored.resourceType === 'AuditEvent' || stored.resourceType === 'Provenance') return;
    const kind = KIND[interaction];
    const ref = `${stored.resourceType}/${stored.id}`;
    for (const patientId of patientCompartmentsOf(stored)) {
      const key = `${patientId}|${kind}`;
      // Appended in place: a Bundle of a thousand writes must not copy the list a thousand times.
      const list = this.touched.get(key);
      if (list) list.push(ref);
      else this.touched.set(key, [ref]);
    }
    if (this.facts.onBehalfOf && this.facts.actor && kind !== 'delete') {
      const versioned = `${ref}/_history/${stored.meta?.versionId ?? '1'}`;
      const list = this.onBehalf.get(kind);
      if (list) list.push(versioned);
      else this.onBehalf.set(kind, [versioned]);
    }
  }

  rows(now = new Date()): AccessLogRow[] {
    const recorded = now.toISOString();
    const { actor, relation, level, clientId, clientName, grant } = this.facts;
    return [...this.touched].map(([key, shown]) => {
      const [patientId, kind] = key.split('|') as [string, Kind];
      return { recorded, patientId, actor, relation, level, clientId, clientName, event: 'rest', interaction: kind, action: ACTION[kind], shown, query: null, outcome: '0', grant, detail: null };
    });
  }

  provenance(now = new Date()): Provenance[] {
    const { actor, grant, onBehalfOf } = this.facts;
    return [...this.onBehalf].map(([kind, targets]) => ({
      resourceType: 'Provenance',
      target: targets.map((reference) => ({ reference })),
      recorded: now.toISOString(),
      activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: ACTIVITY[kind] }] },
      agent: [{
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
        who: { reference: actor! },
        onBehalfOf: { reference: `Patient/${onBehalfOf}` },
      }],
      ...(grant ? { policy: [grant] } : {}),
    }));
  }

  /** Writes the log rows (one INSERT) and the Provenance in the write's transaction `tx`. */
  async commit(tx: WriteRecorder, now = new Date()): Promise<void> {
    await insertRows(tx.queryable, this.rows(now));
    const provenance = this.provenance(now);
    if (provenance.length > 0) await tx.createServerGenerated(provenance);
  }
}

/**
 * Gives a write-only access context (the device bridges build their own, src/bridges) the write
 * log of the request's decided context, so the bridges' writes are logged like every other write
 * (issue 10 §6) without the bridges knowing about the log.
 */
export function withWriteLog(access: AccessContext, decided: AccessContext | undefined): AccessContext {
  // The request's decided context knows the app by its registered name; its log wins over the bridge's own.
  if (!decided?.recordWrite) return access;
  const recordWrite = decided.recordWrite.bind(decided);
  return Object.freeze({ ...access, recordWrite });
}
