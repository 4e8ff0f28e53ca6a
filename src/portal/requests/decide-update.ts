/**
 * Changes to a sent request (issue 13) as pure decisions. The patient side sees the status and the
 * answer and may withdraw (cancel) a request the clinic has not taken on yet; the answer itself —
 * accepting, completing with an `output`, rejecting with a `statusReason` — is the clinic's.
 */
import type { AllergyIntolerance, MedicationRequest, Resource, Task } from 'fhir/r4';
import { businessRule, type FhirError } from '../../fhir/errors.js';
import { sameJson } from '../booking/codes.js';
import { forbiddenAt, REQUEST_CODES, type RequestCode, TERMINAL, WITHDRAWABLE } from './codes.js';
import { CLINIC_FIELDS } from './decide-request.js';

/** What may differ between versions without being anyone's edit (the server stamps meta; §5.2 fills requester). */
const BOOKKEEPING = new Set(['meta', 'text', 'requester', 'lastModified']);
/** Who answers and how: the clinic's (and the server's) fields, never the patient side's after sending. */
const NOT_PATIENT_SIDE: readonly string[] = [...CLINIC_FIELDS, 'owner'];
/** The request's content, which is the patient's: nobody rewrites what was asked. */
const CONTENT = ['code', 'for', 'focus', 'input', 'intent', 'authoredOn', 'basedOn', 'description', 'priority'];

function changedFields(previous: Task, next: Task): string[] {
  const p = previous as unknown as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(p), ...Object.keys(n)])].filter((k) => !BOOKKEEPING.has(k) && !sameJson(p[k], n[k]));
}

/** The patient side: withdraw an open request, nothing else. */
export function decidePatientUpdate(previous: Task, next: Task): FhirError | null {
  const changed = changedFields(previous, next);
  const clinic = changed.find((k) => NOT_PATIENT_SIDE.includes(k) && !(k === 'statusReason' && next.status === 'cancelled'));
  if (clinic) return forbiddenAt(`Task.${clinic} is the clinic's answer; the patient side may only withdraw the request (status "cancelled")`, `Task.${clinic}`);
  const other = changed.find((k) => k !== 'status' && k !== 'statusReason');
  if (other) return businessRule(`A sent request is not edited (Task.${other}); withdraw it and send a new one`, `Task.${other}`);
  if (next.status === previous.status) return null;
  if (next.status !== 'cancelled') return businessRule(`The patient side may only withdraw a request (status "cancelled"), not set it to "${next.status}"; the clinic answers it`, 'Task.status');
  if (!WITHDRAWABLE.includes(previous.status)) return businessRule(`This request can no longer be withdrawn: it is ${previous.status}`, 'Task.status');
  return null;
}

export interface AnswerFacts {
  code: RequestCode;
  /** The resources `Task.output.valueReference` points at, as stored (undefined: unknown). */
  outputs: ReadonlyArray<{ reference: string; resource: Resource | undefined }>;
}

const patientOf = (r: Resource | undefined): string | undefined =>
  (r as { subject?: { reference?: string }; patient?: { reference?: string } } | undefined)?.subject?.reference ??
  (r as { patient?: { reference?: string } } | undefined)?.patient?.reference;

/** The clinic (a clinician of the owner organisation, or a backend) answers the request. */
export function decideClinicAnswer(previous: Task, next: Task, f: AnswerFacts): FhirError | null {
  const content = changedFields(previous, next).find((k) => CONTENT.includes(k));
  if (content) return businessRule(`Task.${content} is the patient's request and is not changed by the answer`, `Task.${content}`);
  if (next.status !== previous.status && TERMINAL.includes(previous.status)) return businessRule(`This request is already ${previous.status}`, 'Task.status');
  for (const [i, o] of f.outputs.entries()) {
    if (!o.resource) return businessRule(`Task.output: ${o.reference} is not a known resource`, `Task.output[${i}]`);
    const p = patientOf(o.resource);
    if (p !== undefined && p !== next.for?.reference) return businessRule(`Task.output: ${o.reference} is in another patient's record`, `Task.output[${i}]`);
  }
  if (next.status === 'rejected' && !(next.statusReason?.text?.trim() || next.statusReason?.coding?.length)) {
    return businessRule('A rejected request says why in Task.statusReason', 'Task.statusReason');
  }
  if (next.status === 'completed' && previous.status !== 'completed') return completion(next, f);
  return null;
}

function completion(next: Task, f: AnswerFacts): FhirError | null {
  const found = (type: string) => f.outputs.map((o) => o.resource).filter((r) => r?.resourceType === type);
  if (f.code === REQUEST_CODES.renew) {
    const renewed = (found('MedicationRequest') as MedicationRequest[]).filter((m) => `MedicationRequest/${m.id}` !== next.focus?.reference);
    if (renewed.length === 0) return businessRule('A renewal is completed with the new MedicationRequest in Task.output (or rejected with a reason)', 'Task.output');
  }
  if (f.code === REQUEST_CODES.allergy) {
    const confirmed = (found('AllergyIntolerance') as AllergyIntolerance[]).filter((a) => a.verificationStatus?.coding?.some((c) => c.code === 'confirmed'));
    if (confirmed.length === 0) return businessRule('An allergy addition is completed with the confirmed AllergyIntolerance in Task.output (or rejected with a reason)', 'Task.output');
  }
  return null;
}
