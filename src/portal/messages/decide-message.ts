/**
 * Message threads as pure decisions over loaded facts (issue 13; access-spec §5.2, §5.3 row 4, S26):
 * who a citizen may start a thread with, when and to whom a reply goes, and what the two sides may
 * change on a stored message (only its read mark). message-rule.ts loads the facts and applies the
 * outcome inside the write's transaction.
 */
import type { CodeableConcept, Communication, Reference, Resource } from 'fhir/r4';
import { businessRule, FhirError } from '../../fhir/errors.js';
import { sameJson } from '../booking/codes.js';
import { acceptsPatientMessages, isPatientSideRef, repliesAllowed } from './codes.js';

export interface RecipientFact {
  /** FHIRPath of the recipient, e.g. `Communication.recipient[0]`. */
  expression: string;
  reference: string | undefined;
  /** The resource it names, if it exists on this server. */
  resource: Resource | undefined;
}

const NEW_THREAD_HELP = 'a new message goes to an Organization, HealthcareService or PractitionerRole that accepts messages from patients (extension accepts-patient-messages), or to user support';

/** A patient-side new thread: at least one recipient, and every one accepts messages from patients. */
export function decideNewThread(recipients: readonly RecipientFact[]): FhirError | null {
  if (recipients.length === 0) return businessRule(`Communication.recipient is missing: ${NEW_THREAD_HELP}`, 'Communication.recipient');
  for (const r of recipients) {
    // Unknown and unwilling recipients get the same answer: the reference names the problem either way.
    if (!acceptsPatientMessages(r.resource)) return businessRule(`${r.reference ?? 'This recipient'} does not accept messages from patients: ${NEW_THREAD_HELP}`, r.expression);
  }
  return null;
}

export interface ReplyFacts {
  reply: Communication;
  /** The message answered, if it exists and is in the writer's view; undefined otherwise. */
  answered: Communication | undefined;
  patientSide: boolean;
}

export type ReplyDecision =
  | { ok: true; recipient: Reference[]; topic?: CodeableConcept; category?: CodeableConcept[] }
  | { ok: false; error: FhirError };

const refs = (list: readonly Reference[] | undefined): string[] => (list ?? []).map((r) => r.reference ?? '').sort();

/**
 * A reply (issue 13): stays in the answered message's patient record, is refused where the clinician
 * forbade replies (S26), and goes to the sender of the message answered — or, when a side follows up
 * a message of its own side, to that message's recipients. The patient side may leave `recipient`
 * out (the server fills it in) or name exactly those; clinicians may address a reply as they see fit.
 * The thread's topic and category are carried over when the reply does not state its own.
 */
export function decideReply(f: ReplyFacts): ReplyDecision {
  const { reply, answered } = f;
  const fail = (error: FhirError): ReplyDecision => ({ ok: false, error });
  if ((reply.inResponseTo ?? []).length > 1) return fail(businessRule('A reply answers one message: Communication.inResponseTo holds more than one', 'Communication.inResponseTo[1]'));
  const named = reply.inResponseTo?.[0]?.reference ?? 'Communication.inResponseTo';
  // Missing and out-of-view messages get the same answer, so ids of other records are not confirmed.
  if (!answered) return fail(businessRule(`${named} is not a message in this patient's record`, 'Communication.inResponseTo[0]'));
  if (answered.subject?.reference !== reply.subject?.reference) {
    return fail(businessRule(`A reply stays in the thread's record: Communication.subject must be ${answered.subject?.reference ?? 'the subject of the message answered'}`, 'Communication.subject'));
  }
  // A follow-up to a message of the writer's own side goes to that message's recipients.
  const ownFollowUp = isPatientSideRef(answered.sender?.reference) === f.patientSide;
  if (f.patientSide && !ownFollowUp && !repliesAllowed(answered)) {
    return fail(businessRule(`${named} does not accept replies: the health service has not enabled replies to this message (extension reply-allowed = false)`, 'Communication.inResponseTo[0]'));
  }
  const expected: Reference[] = ownFollowUp ? (answered.recipient ?? []) : answered.sender ? [answered.sender] : [];
  const given = reply.recipient ?? [];
  let recipient = given;
  if (given.length === 0) recipient = expected;
  else if (f.patientSide && !sameJson(refs(given), refs(expected))) {
    return fail(businessRule(`A reply goes to the sender of the message answered: Communication.recipient must be ${refs(expected).join(', ') || 'that sender'} (or left out)`, 'Communication.recipient'));
  }
  return { ok: true, recipient, ...(reply.topic ? {} : answered.topic ? { topic: answered.topic } : {}), ...(reply.category ? {} : answered.category ? { category: answered.category } : {}) };
}

export type UpdateSide = 'patient' | 'clinician';

export type UpdateDecision = { ok: true; received?: string } | { ok: false; error: FhirError };

/** Fields the server stamps on every version; never the client's to compare. */
const SERVER_FIELDS = new Set(['meta', 'id', 'resourceType']);

/**
 * A stored message is part of the record (access-spec §4.4 row 4: no U/D): the only change either
 * side may make is the recipient side marking it read, by setting `received`. The server replaces
 * the value with its own clock (the time of reading is the server's word, like the author, §5.2),
 * a mark is never moved or removed, and every other field must come back unchanged (403 naming it).
 */
export function decideMessageUpdate(previous: Communication, next: Communication, side: UpdateSide, now: Date): UpdateDecision {
  const p = previous as unknown as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(p), ...Object.keys(n)])].filter((k) => !SERVER_FIELDS.has(k) && k !== 'received' && !sameJson(p[k], n[k]));
  const refuse = (diagnostics: string, expression: string): UpdateDecision => ({ ok: false, error: new FhirError(403, { code: 'forbidden', diagnostics, expression: [expression] }) });
  if (changed.length > 0) {
    return refuse(`A sent message is part of the record: only its read mark (Communication.received) may be set; ${changed.map((k) => `Communication.${k}`).join(', ')} may not be changed`, `Communication.${changed[0]}`);
  }
  if (sameJson(previous.received, next.received)) return { ok: true };
  if (previous.received) return refuse(`This message was marked read at ${previous.received}; the mark is not changed or removed`, 'Communication.received');
  const sentByPatientSide = isPatientSideRef(previous.sender?.reference);
  const recipientSide = side === 'patient' ? !sentByPatientSide : sentByPatientSide;
  if (!recipientSide) return refuse('Only the recipient side marks a message read; this message was sent by your side', 'Communication.received');
  return { ok: true, received: now.toISOString() };
}
