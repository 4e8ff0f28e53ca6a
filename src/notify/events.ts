/**
 * Which notifications a change causes (issue 14 "Notifications"), as a plain function of the FHIR
 * shapes before and after the write and of which side wrote it. It knows nothing of the message or
 * request modules that produce these resources: whatever door a Communication or Task comes through,
 * the same shape gives the same event.
 */
import type { Communication, Consent, DiagnosticReport, Observation, Reference, Resource, Task } from 'fhir/r4';
import type { AccessSide, WriteInteraction } from '../access/access-context.js';
import { proxyLevelOf } from '../access/gates.js';
import { CS, isProxyLevel } from '../access/policy.js';
import type { EventKind } from './codes.js';

export interface NotificationEvent {
  event: EventKind;
  /** Who is told: `Patient/…` or `RelatedPerson/…` (a proxy, or the grantee of a new grant). */
  recipient: string;
  /** The patient whose record the event is about (null when unknown). */
  patient: string | null;
  /** The resource the event points at, `Type/id`. */
  focus: string;
}

export interface ChangeFacts {
  interaction: WriteInteraction;
  resource: Resource;
  previous: Resource | undefined;
  /** Who wrote: the patient side never notifies itself of its own messages and answers. */
  side: AccessSide | undefined;
}

const PATIENT_SIDE_REF = /^(Patient|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/;
const refOf = (r: Reference | undefined): string | null => (r?.reference && PATIENT_SIDE_REF.test(r.reference) ? r.reference : null);
const patientOf = (r: Reference | undefined): string | null => (r?.reference?.startsWith('Patient/') ? r.reference.slice('Patient/'.length) : null);
const focusOf = (r: Resource) => `${r.resourceType}/${r.id}`;

/** The release marker of access-spec S18 (policy.ts HELD): `meta.tag` release-status|held. */
export function isHeld(r: Resource | undefined): boolean {
  return !!r?.meta?.tag?.some((t) => t.system === CS.releaseStatus && t.code === 'held');
}

function taskCode(t: Task): string | undefined {
  return t.code?.coding?.find((c) => c.system === CS.taskCode)?.code;
}

/** Task codes the patient side answers (offers, questionnaires): their answers are not "answers to a request". */
const PATIENT_ANSWERS = new Set(['earlier-time-offer', 'complete-questionnaire']);
const ANSWERED = new Set(['accepted', 'rejected', 'cancelled', 'completed']);

export function eventsFor(change: ChangeFacts): NotificationEvent[] {
  const { interaction, resource: r, previous, side } = change;
  if (interaction === 'delete') return [];
  switch (r.resourceType) {
    case 'Communication': {
      // A message to the patient side from the clinic side (not a patient's or proxy's own message).
      const c = r as Communication;
      if (interaction !== 'create' || side === 'patient' || refOf(c.sender) || c.status === 'preparation' || c.status === 'entered-in-error') return [];
      const patient = patientOf(c.subject);
      const recipients = [...new Set((c.recipient ?? []).map(refOf).filter((x): x is string => x !== null))];
      return recipients.map((recipient) => ({ event: 'new-message', recipient, patient: patient ?? (recipient.startsWith('Patient/') ? recipient.slice(8) : null), focus: focusOf(c) }));
    }
    case 'Observation':
    case 'DiagnosticReport': {
      // Released = the held-for-review marker is gone from a result that had it (S18).
      const o = r as Observation | DiagnosticReport;
      const patient = patientOf(o.subject);
      if (!patient || !previous || !isHeld(previous) || isHeld(o)) return [];
      return [{ event: 'result-released', recipient: `Patient/${patient}`, patient, focus: focusOf(o) }];
    }
    case 'Task': {
      const t = r as Task;
      const code = taskCode(t);
      const patient = patientOf(t.for);
      if (!patient) return [];
      if (interaction === 'create' && t.status === 'requested') {
        if (code === 'earlier-time-offer') return [{ event: 'earlier-time-offer', recipient: `Patient/${patient}`, patient, focus: focusOf(t) }];
        if (code === 'complete-questionnaire') return [{ event: 'questionnaire', recipient: `Patient/${patient}`, patient, focus: focusOf(t) }];
        return [];
      }
      const before = previous as Task | undefined;
      if (before?.status !== 'requested' || !ANSWERED.has(t.status) || side === 'patient' || PATIENT_ANSWERS.has(code ?? '')) return [];
      // The one who asked is told (a proxy who asked hears it themself), else the patient.
      const recipient = refOf(t.requester) ?? `Patient/${patient}`;
      return [{ event: 'request-answered', recipient, patient, focus: focusOf(t) }];
    }
    case 'Consent': {
      // A proxy grant (fullmakt) that becomes active: its grantee is told (S32).
      const c = r as Consent;
      if (c.status !== 'active' || !isProxyLevel(proxyLevelOf(c) ?? undefined)) return [];
      if (previous && (previous as Consent).status === 'active') return [];
      const grantee = (c.provision?.actor ?? []).map((a) => refOf(a.reference)).find((x) => x?.startsWith('RelatedPerson/'));
      return grantee ? [{ event: 'proxy-grant-given', recipient: grantee, patient: patientOf(c.patient), focus: focusOf(c) }] : [];
    }
    default:
      return [];
  }
}
