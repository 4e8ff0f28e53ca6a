/**
 * A new citizen request (issue 13; access-spec §5.3 rows 23, 24) as a pure decision over facts the
 * write rule loaded in the write's transaction. The patient side sends the request's content
 * (`code`, `for`, `focus`, `input`, optionally `owner`); the server decides who answers it (`owner`,
 * derived from the focus where it can be), when it was sent (`authoredOn`) and, for records requests,
 * the processing deadline (`restriction.period`; FAQ 001 "processing time is 30-60 days").
 */
import type { MedicationRequest, Resource, Task } from 'fhir/r4';
import { businessRule, FhirError } from '../../fhir/errors.js';
import { forbiddenAt, inputName, inputText, MAX_TEXT, REQUEST_CODES, REQUEST_INPUTS, type RequestCode, splitRef } from './codes.js';
import { decideRenewable } from './decide-renewal.js';

/** The processing deadline of a records request: the law's 30 days, extendable to 60 (FAQ 001). */
export const RECORDS_DAYS = 60;

/** The types a request may point at in `focus`, per code (none: the request has no focus). */
export const FOCUS_TYPES: Readonly<Record<RequestCode, readonly string[]>> = {
  'renew-prescription': ['MedicationRequest'],
  'add-allergy': [],
  'apply-municipal-service': [],
  'appeal-decision': ['DocumentReference', 'ServiceRequest'],
  'request-records': [],
};

/** Fields only the clinic or the server writes on a request (403 on the patient side, like §5.2). */
export const CLINIC_FIELDS = ['output', 'businessStatus', 'statusReason', 'restriction', 'executionPeriod', 'lastModified'] as const;

export interface NewRequestFacts {
  task: Task;
  code: RequestCode;
  patientSide: boolean;
  /** `Patient/…` of the token on the patient side (the request is for this patient), else null. */
  patientRef: string | null;
  now: Date;
  /** The focus as stored (read with system access), or undefined when absent or unknown. */
  focus: Resource | undefined;
  /** The Patient reference of the focus (`MedicationRequest.subject`, …), or null. */
  focusPatient: string | null;
  /** The Organization responsible for the focus (binding when found), e.g. the prescriber's clinic. */
  focusOwner: string | null;
  /** The patient's own clinic (managingOrganization / GP's organisation): the default owner when there is no focus. */
  defaultOwner: string | null;
  /** Whether `Task.owner`, when given, is an existing Organization. */
  givenOwnerValid: boolean;
  /** An open renewal request of the same prescription, if any (`Task/…`). */
  openDuplicate: string | null;
}

export type NewRequestOutcome = { ok: true; fill: Partial<Task> } | { ok: false; error: FhirError };

const refuse = (error: FhirError): NewRequestOutcome => ({ ok: false, error });
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function decideNewRequest(f: NewRequestFacts): NewRequestOutcome {
  const { task, code } = f;
  // The clinic's systems (and the demo seed) may carry their own lastModified; the patient side never sets it.
  const fill: Partial<Task> = f.patientSide || !task.lastModified ? { lastModified: iso(f.now) } : {};
  if (code === REQUEST_CODES.records && !task.restriction) {
    fill.restriction = { period: { start: iso(f.now), end: iso(new Date(f.now.getTime() + RECORDS_DAYS * 86_400_000)) } };
  }
  if (!f.patientSide) {
    // The clinic or a backend files requests on the patient's behalf: only fill in what is missing.
    const owner = f.focusOwner ?? (code === REQUEST_CODES.allergy || code === REQUEST_CODES.records ? f.defaultOwner : null);
    if (!task.owner && owner) fill.owner = { reference: owner };
    return { ok: true, fill };
  }
  fill.authoredOn = iso(f.now);
  if (task.status !== 'requested') return refuse(businessRule(`A request is sent with status "requested", not "${task.status}"`, 'Task.status'));
  if (task.for?.reference !== f.patientRef) return refuse(businessRule(`A request is for the patient: Task.for must be ${f.patientRef}`, 'Task.for'));
  if (task.intent !== 'order') return refuse(businessRule(`A request is sent with intent "order", not "${task.intent}"`, 'Task.intent'));
  const t = task as unknown as Record<string, unknown>;
  for (const field of CLINIC_FIELDS) {
    if (field !== 'lastModified' && t[field] !== undefined) return refuse(forbiddenAt(`Task.${field} is the clinic's answer or set by the server; a request is sent without it`, `Task.${field}`));
  }
  const inputs = checkInputs(task, code);
  if (inputs) return refuse(inputs);
  const focus = checkFocus(f);
  if (focus) return refuse(focus);

  const given = task.owner?.reference;
  if (given && !f.givenOwnerValid) return refuse(businessRule(`Task.owner ${given} is not a known Organization`, 'Task.owner'));
  if (f.focusOwner && given && given !== f.focusOwner) {
    return refuse(businessRule(`Task.owner must be ${f.focusOwner}, the organisation responsible for ${task.focus?.reference}; leave it out and the server fills it in`, 'Task.owner'));
  }
  // The patient's own clinic records allergies and keeps the journal; a municipality or the body that
  // made a decision is never guessed.
  const fallback = code === REQUEST_CODES.allergy || code === REQUEST_CODES.records ? f.defaultOwner : null;
  const owner = f.focusOwner ?? given ?? fallback;
  if (!owner) return refuse(businessRule(`Name the Organization that should handle this request in Task.owner${code === REQUEST_CODES.municipal ? ' (the municipality)' : ''}`, 'Task.owner'));
  if (!given) fill.owner = { reference: owner };
  return { ok: true, fill };
}

function checkInputs(task: Task, code: RequestCode): FhirError | null {
  const { required, optional } = REQUEST_INPUTS[code];
  const known = [...required, ...optional];
  const list = task.input ?? [];
  for (const [i, input] of list.entries()) {
    const name = inputName(input);
    const where = `Task.input[${i}]`;
    if (!known.includes(name)) return businessRule(`${where}: "${name}" is not an input of a ${code} request (known: ${known.join(', ') || 'none'})`, where);
    const text = inputText(input) ?? (input.valueDateTime || input.valuePeriod || input.valueDate ? 'dated' : undefined);
    if (!text || !text.trim()) return businessRule(`${where} (${name}) has no value`, where);
    if (text.length > MAX_TEXT) return businessRule(`${where} (${name}) is longer than ${MAX_TEXT} characters`, where);
  }
  for (const name of required) {
    const n = list.filter((x) => inputName(x) === name).length;
    if (n !== 1) return businessRule(`A ${code} request has exactly one input "${name}"${code === REQUEST_CODES.allergy ? ' (the allergy, coded or as text)' : ''}, found ${n}`, 'Task.input');
  }
  return null;
}

function checkFocus(f: NewRequestFacts): FhirError | null {
  const { task, code } = f;
  const types = FOCUS_TYPES[code];
  const ref = task.focus?.reference;
  if (types.length === 0) return task.focus ? businessRule(`A ${code} request has no focus`, 'Task.focus') : null;
  const parts = splitRef(task.focus);
  if (!parts || !types.includes(parts[0])) return businessRule(`A ${code} request names its ${types.join(' or ')} in Task.focus${ref ? `, not ${ref}` : ''}`, 'Task.focus');
  // 403 alike for unknown ids and other patients' resources, so ids in other records are not confirmed.
  if (!f.focus || f.focusPatient !== task.for?.reference) {
    return forbiddenAt(`Task.focus ${ref} is not one of this patient's ${code === REQUEST_CODES.renew ? 'prescriptions' : 'decisions'}`, 'Task.focus');
  }
  if (code === REQUEST_CODES.renew) {
    const d = decideRenewable(f.focus as MedicationRequest, f.now);
    if (!d.renewable) return businessRule(`Task.focus: ${d.why}`, 'Task.focus');
    if (f.openDuplicate) return businessRule(`Task.focus: a renewal of ${ref} is already waiting for an answer (${f.openDuplicate})`, 'Task.focus');
  }
  // A decision is made by an organisation (custodian or author; a ServiceRequest's performer or
  // requester): a resource without one, such as a personal note, is nothing to appeal.
  if (code === REQUEST_CODES.appeal && !f.focusOwner) return businessRule(`Task.focus ${ref} names no organisation that made it, so it is not a decision to appeal`, 'Task.focus');
  return null;
}
