/**
 * Patient-side Task writes of the appointment workflows as pure decisions (issue 12; access-spec
 * §5.3 rows 21, 22, 25): which fields a citizen may touch, which status moves are theirs, and when an
 * accepted earlier-time offer is too late.
 */
import type { Task } from 'fhir/r4';
import { businessRule, conflict, type FhirError } from '../../fhir/errors.js';
import { sameJson, TASK_CODES, taskCodeOf } from './codes.js';

/** What the patient side may set on a Task the clinic or server created (requester is the author rule's, §5.2). */
const ANSWER_FIELDS = new Set(['status', 'statusReason', 'businessStatus', 'note', 'output', 'lastModified', 'requester', 'meta', 'text', 'executionPeriod']);
const ANSWERS: Record<string, readonly Task['status'][]> = {
  [TASK_CODES.offer]: ['accepted', 'rejected'],
  [TASK_CODES.questionnaire]: ['in-progress', 'completed'],
  [TASK_CODES.change]: ['cancelled'],
  [TASK_CODES.cancel]: ['cancelled'],
};

export function decidePatientTaskUpdate(previous: Task, next: Task): FhirError | null {
  const code = taskCodeOf(previous);
  const p = previous as unknown as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(p), ...Object.keys(n)])].filter((k) => !ANSWER_FIELDS.has(k) && !sameJson(p[k], n[k]));
  if (changed.length > 0) return businessRule(`A citizen answers this Task by its status${code === TASK_CODES.questionnaire ? ' and output' : ''}; ${changed.join(', ')} may not be changed`, `Task.${changed[0]}`);
  if (next.status === previous.status) return null;
  if (!code || !ANSWERS[code]!.includes(next.status)) return businessRule(`A citizen may not set this Task's status to "${next.status}"`, 'Task.status');
  if (code === TASK_CODES.offer && previous.status !== 'requested') {
    return conflict(`This offer is no longer open (${previous.status}${previous.statusReason?.text ? `: ${previous.statusReason.text}` : ''})`);
  }
  return null;
}

/** A patient-side change or cancel request: a new request about an appointment. */
export function decidePatientRequest(task: Task): FhirError | null {
  if (task.status !== 'requested') return businessRule('A change or cancel request is created with status "requested"', 'Task.status');
  if (!/^Appointment\/[A-Za-z0-9\-.]{1,64}$/.test(task.focus?.reference ?? '')) return businessRule('A change or cancel request names the Appointment in Task.focus', 'Task.focus');
  return null;
}

export const isExpired = (task: Task, now: Date): boolean => {
  const end = task.restriction?.period?.end;
  return !!end && Date.parse(end) < now.getTime();
};
