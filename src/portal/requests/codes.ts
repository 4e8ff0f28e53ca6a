/**
 * The vocabulary of citizen requests (issue 13; access-spec §5.3 rows 23, 24): one Task per request,
 * `code` from the task-code CodeSystem, the request's content in `Task.input` parts named by
 * `type.text` (the same convention as the questionnaire Task of issue 12), and the statuses that
 * count as open.
 */
import type { Reference, Task, TaskInput } from 'fhir/r4';
import { FhirError } from '../../fhir/errors.js';
import { TASK_CODE_SYSTEM } from '../booking/codes.js';

export const REQUEST_CODES = {
  renew: 'renew-prescription',
  allergy: 'add-allergy',
  municipal: 'apply-municipal-service',
  appeal: 'appeal-decision',
  records: 'request-records',
} as const;
export type RequestCode = (typeof REQUEST_CODES)[keyof typeof REQUEST_CODES];
const ALL: readonly string[] = Object.values(REQUEST_CODES);

/** The input parts each request accepts (`Task.input.type.text`), and which of them are required. */
export const REQUEST_INPUTS: Readonly<Record<RequestCode, { required: readonly string[]; optional: readonly string[] }>> = {
  'renew-prescription': { required: [], optional: ['comment'] },
  'add-allergy': { required: ['allergy'], optional: ['reaction', 'when', 'comment'] },
  'apply-municipal-service': { required: ['description'], optional: ['service'] },
  'appeal-decision': { required: ['description'], optional: [] },
  'request-records': { required: ['description'], optional: ['period'] },
};

/** "a brief description of your situation" (FAQ 001, Municipal Services): free text is capped. */
export const MAX_TEXT = 4000;

/** Open: sent and not yet taken on by the clinic; the patient side may still withdraw it. */
export const WITHDRAWABLE: readonly Task['status'][] = ['requested', 'received'];
/** Ended: no one moves a request out of these. */
export const TERMINAL: readonly Task['status'][] = ['completed', 'rejected', 'cancelled', 'failed', 'entered-in-error'];
/** Open for the duplicate check of renewals: anything not ended. */
export const OPEN_STATUSES = 'draft,requested,received,accepted,ready,in-progress,on-hold';

export function requestCodeOf(task: Task | undefined): RequestCode | null {
  const c = task?.code?.coding?.find((x) => x.system === TASK_CODE_SYSTEM)?.code;
  return c && ALL.includes(c) ? (c as RequestCode) : null;
}

export const inputName = (i: TaskInput): string => i.type?.text ?? i.type?.coding?.[0]?.code ?? '';
export const inputsNamed = (task: Task, name: string): TaskInput[] => (task.input ?? []).filter((i) => inputName(i) === name);

/** The text of an input part, whatever its value type (string, CodeableConcept text or display). */
export function inputText(i: TaskInput | undefined): string | undefined {
  if (!i) return undefined;
  return i.valueString ?? i.valueMarkdown ?? i.valueCodeableConcept?.text ?? i.valueCodeableConcept?.coding?.[0]?.display ?? i.valueCodeableConcept?.coding?.[0]?.code;
}

/** `[type, id]` of a literal relative reference, or null. */
export function splitRef(r: Reference | undefined): [string, string] | null {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(r?.reference ?? '');
  return m ? [m[1]!, m[2]!] : null;
}

/** 403 naming the field (access-spec §4.7: a write into what is not the caller's). */
export function forbiddenAt(diagnostics: string, expression: string): FhirError {
  return new FhirError(403, { code: 'forbidden', diagnostics, expression: [expression] });
}
