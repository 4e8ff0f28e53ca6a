/**
 * The booking rules as pure decisions over loaded facts (issue 12; access-spec §5.3 row 20; FAQ 001
 * "Can I book appointments myself?", "Can I change or cancel appointments?"). The write rule
 * (appointment-rule.ts) loads the facts inside the write's transaction and applies the outcome.
 */
import type { Appointment, Slot } from 'fhir/r4';
import { businessRule, conflict, type FhirError } from '../../fhir/errors.js';
import { sameJson, EXT, TASK_CODE_SYSTEM, TASK_CODES, type BookingRules } from './codes.js';

/** Statuses in which an appointment holds its slot busy; leaving them frees it. */
const HOLDING = new Set<Appointment['status']>(['booked', 'arrived', 'checked-in', 'fulfilled']);
/** What the patient side may create: a booking from a Slot, or a request the clinic confirms. */
const PATIENT_CREATE = new Set<Appointment['status']>(['booked', 'proposed']);
/** Fields the patient side may change on an existing appointment (cancel, waitlist opt-in, a comment). */
const PATIENT_MUTABLE = new Set(['status', 'cancelationReason', 'comment', 'extension', 'meta', 'text']);

export const holdsSlot = (a: Appointment | undefined): boolean => !!a && HOLDING.has(a.status);

export function slotIdsOf(a: Appointment | undefined): string[] {
  return (a?.slot ?? []).flatMap((s) => {
    const m = /^Slot\/([A-Za-z0-9\-.]{1,64})$/.exec(s.reference ?? '');
    return m ? [m[1]!] : [];
  });
}

export const wantsWaitlist = (a: Appointment | undefined): boolean => a?.extension?.some((e) => e.url === EXT.waitlist && e.valueBoolean === true) ?? false;

const requestHint = (code: string) => `${TASK_CODE_SYSTEM}|${code}`;

/** A patient-side Appointment create: a booked one comes from exactly one Slot; otherwise it is a request. */
export function decidePatientCreate(a: Appointment): FhirError | null {
  if (!PATIENT_CREATE.has(a.status)) {
    return businessRule(`A citizen creates an appointment as "booked" from a free Slot or as a request ("proposed"), not as "${a.status}"`, 'Appointment.status');
  }
  if (a.status === 'booked' && slotIdsOf(a).length !== 1) {
    return businessRule('A booking names exactly one free Slot (Appointment.slot); the time is taken from the slot', 'Appointment.slot');
  }
  return null;
}

export interface BookFacts {
  patientSide: boolean;
  slotId: string;
  slot: Slot | undefined;
  rules: BookingRules;
  /** An active ServiceRequest (referral) for this patient and service exists. */
  hasReferral: boolean;
  waitlist: boolean;
  /** Other appointments holding the slot (only looked up for a busy slot booked by the clinic side). */
  heldByOthers: number;
}

/** Whether a slot may be booked (any side: the slot must be free; patient side: the service's rules). */
export function decideBook(f: BookFacts): FhirError | null {
  if (!f.slot) return businessRule(`Slot/${f.slotId} is not known`, 'Appointment.slot');
  // The clinic may book into a slot it marked busy that no appointment holds (a blocked time, or a
  // demo Bundle that stores the slot's final state); a held slot is never booked twice.
  const clinicOverride = !f.patientSide && f.slot.status === 'busy' && f.heldByOthers === 0;
  if (f.slot.status !== 'free' && !clinicOverride) return conflict(`Slot/${f.slotId} is not free (it is ${f.slot.status}); choose another time`);
  if (!f.patientSide) return null;
  if (!f.rules.selfBooking) {
    return businessRule(
      'This service does not take bookings from citizens: send a request instead (Appointment with status "proposed"), which the clinic confirms',
      'Appointment.status',
    );
  }
  if (f.rules.referralRequired && !f.hasReferral) {
    return businessRule('This service needs a referral: no active ServiceRequest for this patient and service was found', 'Appointment.basedOn');
  }
  if (f.waitlist && !f.rules.waitlist) return businessRule('This service keeps no waitlist for earlier times', 'Appointment.extension');
  return null;
}

export interface ChangeFacts {
  previous: Appointment;
  next: Appointment;
  rules: BookingRules;
  now: Date;
}

/** A patient-side update: only cancelling (before the cut-off, where self-cancel holds) and the waitlist opt-in. */
export function decidePatientChange(f: ChangeFacts): FhirError | null {
  const { previous: p, next: n } = f;
  const changed = [...new Set([...Object.keys(p), ...Object.keys(n)])].filter(
    (k) => !PATIENT_MUTABLE.has(k) && !sameJson((p as unknown as Record<string, unknown>)[k], (n as unknown as Record<string, unknown>)[k]),
  );
  if (changed.length > 0) {
    return businessRule(
      `A citizen does not edit an appointment's ${changed.join(', ')}: book a new Slot and cancel this appointment in one transaction (reschedule), or send a change request (Task ${requestHint(TASK_CODES.change)})`,
      `Appointment.${changed[0]}`,
    );
  }
  if (wantsWaitlist(n) && !wantsWaitlist(p) && !f.rules.waitlist) return businessRule('This service keeps no waitlist for earlier times', 'Appointment.extension');
  if (n.status === p.status) return null;
  if (n.status !== 'cancelled') {
    return businessRule(`A citizen may change an appointment's status only to "cancelled", not to "${n.status}"`, 'Appointment.status');
  }
  if (!f.rules.selfCancel) {
    return businessRule(`This service does not take cancellations in the portal: send a cancel request (Task ${requestHint(TASK_CODES.cancel)})`, 'Appointment.status');
  }
  const start = p.start ? Date.parse(p.start) : NaN;
  if (Number.isFinite(start) && f.now.getTime() > start - f.rules.cancelBeforeHours * 3_600_000) {
    return businessRule(
      `Too late to cancel in the portal: this service takes cancellations until ${f.rules.cancelBeforeHours} hours before the appointment; send a cancel request (Task ${requestHint(TASK_CODES.cancel)}) or call the clinic`,
      'Appointment.status',
    );
  }
  return null;
}
