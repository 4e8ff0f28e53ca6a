/**
 * Earlier-time offers (issue 12; FAQ 001 "Can I get an earlier appointment if one becomes
 * available?"): when a slot of a waitlist service becomes free, every patient waitlisted for a later
 * appointment of that service gets an offer (Task earlier-time-offer); the first to accept wins.
 */
import type { Appointment, Slot, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import type { Repository } from '../../fhir/repository/repository.js';
import { bookingRulesOf, TASK_CODES, taskCode } from './codes.js';
import { wantsWaitlist, holdsSlot, slotIdsOf } from './decide-booking.js';
import { laterAppointmentIds, openOfferIds, patientIdOf, readOrUndefined, serviceOfSlot } from './facts.js';

export interface OfferSettings {
  /** How long an offer stays open (issue 12: "restriction.period.end = expiry (configurable)"). */
  offerTtlMs: number;
  now: () => Date;
}

/** Who gets an offer for a freed slot: waitlisted, still booked, later than the slot, not the one freeing it. */
export function decideOfferees(slotId: string, slot: Slot, candidates: readonly Appointment[], alreadyOffered: ReadonlySet<string>): Appointment[] {
  return candidates.filter(
    (a) => holdsSlot(a) && a.status === 'booked' && wantsWaitlist(a) && !!a.start && Date.parse(a.start) > Date.parse(slot.start) &&
      !slotIdsOf(a).includes(slotId) && !alreadyOffered.has(a.id!) && !!patientIdOf(a),
  );
}

export function offerTask(slotId: string, slot: Slot, a: Appointment, s: OfferSettings): Task {
  const now = s.now();
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'proposal',
    code: taskCode(TASK_CODES.offer),
    description: `An earlier time is free: ${slot.start} (your appointment: ${a.start}). Accept to move your appointment.`,
    focus: { reference: `Slot/${slotId}` },
    for: { reference: `Patient/${patientIdOf(a)}` },
    owner: { reference: `Patient/${patientIdOf(a)}` },
    basedOn: [{ reference: `Appointment/${a.id}` }],
    authoredOn: now.toISOString(),
    restriction: { period: { end: new Date(now.getTime() + s.offerTtlMs).toISOString() } },
  };
}

/** Creates the offers for a slot that has just become free (in the freeing write's transaction). */
export async function offerFreedSlot(tx: Repository, slotId: string, slot: Slot, s: OfferSettings): Promise<number> {
  if (Date.parse(slot.start) <= s.now().getTime()) return 0;
  const service = await serviceOfSlot(tx, slot);
  if (!service?.id || !bookingRulesOf(service).waitlist) return 0;
  const ids = await laterAppointmentIds(tx, service.id, slot.start);
  const candidates = (await Promise.all(ids.map((id) => readOrUndefined<Appointment>(tx, 'Appointment', id)))).filter((a): a is Appointment => !!a);
  const offered = new Set<string>();
  for (const taskId of await openOfferIds(tx, { slotId })) {
    const t = await tx.read<Task>('Task', taskId, SYSTEM_ACCESS);
    for (const b of t.basedOn ?? []) offered.add((b.reference ?? '').replace(/^Appointment\//, ''));
  }
  const offerees = decideOfferees(slotId, slot, candidates, offered);
  for (const a of offerees) await tx.create(offerTask(slotId, slot, a, s), SYSTEM_ACCESS);
  return offerees.length;
}

/** Cancels a Task with a reason ("taken", "expired"), unless it was answered meanwhile. */
export async function cancelOffer(tx: Repository, taskId: string, reason: 'taken' | 'expired', opts: { skipLocked?: boolean } = {}): Promise<boolean> {
  const task = await tx.lockForUpdate<Task>('Task', taskId, opts);
  if (!task || task.status !== 'requested') return false;
  await tx.update<Task>({ ...task, status: 'cancelled', statusReason: { text: reason } }, SYSTEM_ACCESS);
  return true;
}
