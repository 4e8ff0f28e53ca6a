/**
 * Loads what the booking decisions need, inside the write's transaction (so what is judged is what
 * commits): the service behind a slot, its rules, referrals, and the open offers of a slot.
 */
import type { Appointment, HealthcareService, Schedule, Slot } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import type { Repository } from '../../fhir/repository/repository.js';
import { findMatchingIds } from '../../fhir/search/find-ids.js';
import { bookingRulesOf, idOf, NO_SELF_SERVICE, TASK_CODE_SYSTEM, TASK_CODES, type BookingRules } from './codes.js';

export async function readOrUndefined<T extends Slot | Schedule | HealthcareService | Appointment>(tx: Repository, type: T['resourceType'], id: string | null): Promise<T | undefined> {
  if (!id) return undefined;
  return tx.read<T>(type, id, SYSTEM_ACCESS).catch(() => undefined);
}

/** Slot.schedule → Schedule.actor → HealthcareService (issue 12: "Schedule.actor names the HealthcareService"). */
export async function serviceOfSlot(tx: Repository, slot: Slot | undefined): Promise<HealthcareService | undefined> {
  const schedule = await readOrUndefined<Schedule>(tx, 'Schedule', idOf(slot?.schedule?.reference, 'Schedule'));
  const actor = schedule?.actor?.map((a) => idOf(a.reference, 'HealthcareService')).find((id) => id);
  return readOrUndefined<HealthcareService>(tx, 'HealthcareService', actor ?? null);
}

/** The service an appointment is with: its HealthcareService participant (added at booking). */
export function serviceIdOf(a: Appointment | undefined): string | null {
  return a?.participant?.map((p) => idOf(p.actor?.reference, 'HealthcareService')).find((id) => id) ?? null;
}

export async function rulesOfAppointment(tx: Repository, a: Appointment): Promise<{ rules: BookingRules; service: HealthcareService | undefined }> {
  const service = await readOrUndefined<HealthcareService>(tx, 'HealthcareService', serviceIdOf(a));
  return { rules: service ? bookingRulesOf(service) : NO_SELF_SERVICE, service };
}

export function patientIdOf(a: Appointment | undefined): string | null {
  return a?.participant?.map((p) => idOf(p.actor?.reference, 'Patient')).find((id) => id) ?? null;
}

/** A referral: an active ServiceRequest for the patient whose performer is the service. */
export async function hasReferral(tx: Repository, patientId: string | null, serviceId: string | undefined): Promise<boolean> {
  if (!patientId || !serviceId) return false;
  const ids = await findMatchingIds(tx.queryable, 'ServiceRequest', `subject=Patient/${patientId}&status=active&performer=HealthcareService/${serviceId}`, SYSTEM_ACCESS, 1);
  return ids.length > 0;
}

const OFFER = `${TASK_CODE_SYSTEM}|${TASK_CODES.offer}`;

/** Open earlier-time offers, of one slot or (without `slotId`) all of them. */
export async function openOfferIds(tx: Repository, opts: { slotId?: string; appointmentId?: string } = {}): Promise<string[]> {
  let q = `code=${OFFER}&status=requested`;
  if (opts.slotId) q += `&focus=Slot/${opts.slotId}`;
  if (opts.appointmentId) q += `&based-on=Appointment/${opts.appointmentId}`;
  return findMatchingIds(tx.queryable, 'Task', q, SYSTEM_ACCESS, 10_000);
}

/** Booked appointments of a service later than `after`: the candidates for an earlier-time offer. */
export async function laterAppointmentIds(tx: Repository, serviceId: string, after: string): Promise<string[]> {
  return findMatchingIds(tx.queryable, 'Appointment', `actor=HealthcareService/${serviceId}&status=booked&date=gt${encodeURIComponent(after)}`, SYSTEM_ACCESS, 10_000);
}

/** Appointments that hold a slot (booked or later). */
export async function holderIds(tx: Repository, slotId: string): Promise<string[]> {
  return findMatchingIds(tx.queryable, 'Appointment', `slot=Slot/${slotId}&status=booked,arrived,checked-in,fulfilled`, SYSTEM_ACCESS, 100);
}
