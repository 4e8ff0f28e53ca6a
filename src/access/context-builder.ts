/**
 * The one place an AccessContext is made (architecture.md "one builder for every AccessContext").
 * The FHIR API (decide.ts) and the device bridges (bridges/bridge-access.ts) both come here, so every
 * context carries the same identity facts (actor, patient, side) and every write it allows leaves the
 * same trace: the access log and, for someone acting for the patient, a Provenance (S23; issue 5 §5),
 * written in the write's own transaction.
 */
import type { Resource } from 'fhir/r4';
import type { AccessContext, AccessFilter, AccessSide, LivenessGuard, WriteInteraction, WriteRecorder } from './access-context.js';
import { writeFactsOf } from '../audit/facts.js';
import { WriteLog } from '../audit/write-log.js';
import { PATIENT_FACING } from './policy.js';
import type { Relation } from './relations.js';

export interface AccessParts {
  /** Who acts, for whom, through which grant (relations.ts). */
  relation: Relation;
  /** The OAuth client the token was issued to, and its registered name (for the log). */
  clientId: string;
  clientName?: string | null;
  /** Used when the relation names no acting person (a backend client): `Client/<id>`. */
  fallbackActor?: string | null;
  filters: readonly AccessFilter[];
  checkWrite: AccessContext['checkWrite'];
  /** The grant check the read's statement carries instead of a statement of its own (access-context.ts). */
  liveness?: LivenessGuard;
}

export function sideOf(relation: Relation): AccessSide {
  if (PATIENT_FACING.includes(relation.actor)) return 'patient';
  return relation.actor === 'clinician' ? 'clinician' : 'system';
}

export function buildAccessContext(parts: AccessParts): AccessContext {
  const { relation } = parts;
  const side = sideOf(relation);
  const pendingWrites = new WeakMap<WriteRecorder, WriteLog>();
  return Object.freeze({
    actor: relation.actorRef ?? parts.fallbackActor ?? null,
    patientId: relation.patientId,
    side,
    // A frozen list is kept as it is: its identity carries the signature its compiled SQL is cached under (access-sql.ts).
    filters: Object.isFrozen(parts.filters) ? parts.filters : Object.freeze([...parts.filters]),
    checkWrite: parts.checkWrite,
    ...(parts.liveness ? { liveness: parts.liveness } : {}),
    async recordWrite(tx: WriteRecorder, interaction: WriteInteraction, stored: Resource): Promise<void> {
      // Collected per transaction and written once before it commits: a transaction Bundle of a
      // thousand resources leaves one AuditEvent per patient and kind of write, not a thousand.
      let pending = pendingWrites.get(tx);
      if (!pending) {
        const onBehalfOf = relation.actor !== 'self' && side === 'patient' ? relation.patientId : null;
        const list = new WriteLog({ ...writeFactsOf(relation, parts.clientId, parts.clientName ?? null), onBehalfOf });
        pending = list;
        pendingWrites.set(tx, list);
        tx.beforeCommit(list, async (t) => {
          pendingWrites.delete(tx);
          await list.commit(t);
        });
      }
      pending.add(interaction, stored);
    },
  });
}
