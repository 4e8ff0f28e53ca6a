/**
 * The booking contract's vocabulary (issue 12; README "Appointments and booking"): the
 * booking-rules extension on HealthcareService, the waitlist and video-link extensions on
 * Appointment, and the Task codes of the portal's appointment workflows.
 */
import type { CodeableConcept, HealthcareService, Resource, Task } from 'fhir/r4';

export const EXT = {
  bookingRules: 'https://fhir.helsebro.no/StructureDefinition/booking-rules',
  waitlist: 'https://fhir.helsebro.no/StructureDefinition/waitlist',
  videoLink: 'https://fhir.helsebro.no/StructureDefinition/video-link',
} as const;

export const TASK_CODE_SYSTEM = 'https://fhir.helsebro.no/CodeSystem/task-code';
export const TASK_CODES = {
  offer: 'earlier-time-offer',
  change: 'change-appointment',
  cancel: 'cancel-appointment',
  questionnaire: 'complete-questionnaire',
} as const;
export type TaskCode = (typeof TASK_CODES)[keyof typeof TASK_CODES];

/** The rules a service books under (the booking-rules extension; defaults where a sub-extension is absent). */
export interface BookingRules {
  selfBooking: boolean;
  selfCancel: boolean;
  cancelBeforeHours: number;
  referralRequired: boolean;
  waitlist: boolean;
  /** Base URL of the service's video rooms; set for video consultations. */
  video: string | null;
}

export const NO_SELF_SERVICE: BookingRules = { selfBooking: false, selfCancel: false, cancelBeforeHours: 24, referralRequired: false, waitlist: false, video: null };

export function bookingRulesOf(service: HealthcareService | undefined): BookingRules {
  const ext = service?.extension?.find((e) => e.url === EXT.bookingRules);
  if (!ext) return NO_SELF_SERVICE;
  const sub = (url: string) => ext.extension?.find((e) => e.url === url);
  return {
    selfBooking: sub('selfBooking')?.valueBoolean ?? false,
    selfCancel: sub('selfCancel')?.valueBoolean ?? false,
    cancelBeforeHours: sub('cancelBeforeHours')?.valueInteger ?? 24,
    referralRequired: sub('referralRequired')?.valueBoolean ?? false,
    waitlist: sub('waitlist')?.valueBoolean ?? false,
    video: sub('video')?.valueUrl ?? null,
  };
}

export function taskCodeOf(task: Task): TaskCode | null {
  const c = task.code?.coding?.find((x) => x.system === TASK_CODE_SYSTEM)?.code;
  return (Object.values(TASK_CODES) as string[]).includes(c ?? '') ? (c as TaskCode) : null;
}

export function taskCode(code: TaskCode): CodeableConcept {
  return { coding: [{ system: TASK_CODE_SYSTEM, code }] };
}

/** `Type/id` of a literal reference, or null (absolute and contained references are not ours). */
export function idOf(reference: string | undefined, type: string): string | null {
  const m = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference ?? '');
  return m && m[1] === type ? m[2]! : null;
}

/** The patient side acts as a Patient or RelatedPerson (access-context actor); clinics and systems do not. */
export function isPatientSide(actor: string | null): boolean {
  return !!actor && (actor.startsWith('Patient/') || actor.startsWith('RelatedPerson/'));
}

export const isType = <T extends Resource>(r: Resource | undefined, type: T['resourceType']): r is T => r?.resourceType === type;

/** JSON with object keys sorted: a stored version comes back from JSONB in another key order than it was sent. */
export function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))) : x));
  return canonical(a) === canonical(b);
}
