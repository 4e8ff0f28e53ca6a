/**
 * Who acts, as the access log records it: the access engine's live relation (relations.ts) plus the
 * client and its registered name. One builder for reads (the auditor) and writes (the write log).
 */
import type { Relation } from '../access/relations.js';
import type { ActorFacts } from './access-log.js';
import { relationOf } from './audit-event.js';

export function actorFacts(relation: Relation, clientId: string | null, clientName: string | null): ActorFacts {
  return { ...writeFactsOf(relation, clientId, clientName), contextPatientId: relation.patientId };
}

export function writeFactsOf(relation: Relation, clientId: string | null, clientName: string | null): Omit<ActorFacts, 'contextPatientId'> {
  const { relation: acting, level } = relationOf(relation.actor);
  return { actor: relation.actorRef, relation: acting, level, clientId, clientName, grant: relation.grantRef };
}
