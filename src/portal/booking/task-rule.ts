/**
 * The Task write rule of the appointment workflows (issue 12): change/cancel requests get the
 * service's Organization as owner; an accepted earlier-time offer moves the appointment to the
 * offered slot in the same transaction, first come first served; late accepts answer 409 and leave
 * their Task cancelled.
 */
import type { Appointment, Slot, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import { businessRule, conflict } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import { withFollowUp, type WriteChange } from '../../fhir/repository/write-rules.js';
import { idOf, isPatientSide, TASK_CODES, taskCodeOf } from './codes.js';
import { holdsSlot } from './decide-booking.js';
import { decidePatientRequest, decidePatientTaskUpdate, isExpired } from './decide-task.js';
import { patientIdOf, readOrUndefined, rulesOfAppointment } from './facts.js';
import { cancelOffer, type OfferSettings } from './waitlist-offers.js';

export async function judgeTask(change: WriteChange, tx: Repository, s: OfferSettings): Promise<void> {
  if (change.interaction === 'delete') return;
  const task = change.resource as Task;
  const previous = change.previous as Task | undefined;
  const patientSide = isPatientSide(change.access.actor);
  const code = taskCodeOf(previous ?? task);
  // Tasks of other rooms (citizen requests, src/portal/requests) are judged by their own rule.
  if (!code) return;
  if (!previous) {
    if (code === TASK_CODES.change || code === TASK_CODES.cancel) await judgeRequest(task, tx, patientSide);
    return;
  }
  if (patientSide) {
    const refusal = decidePatientTaskUpdate(previous, task);
    if (refusal) throw refusal;
  }
  if (code === TASK_CODES.offer && task.status === 'accepted' && previous.status !== 'accepted') await acceptOffer(previous, tx, s);
}

async function judgeRequest(task: Task, tx: Repository, patientSide: boolean): Promise<void> {
  if (patientSide) {
    const refusal = decidePatientRequest(task);
    if (refusal) throw refusal;
  }
  const appointment = await readOrUndefined<Appointment>(tx, 'Appointment', idOf(task.focus?.reference, 'Appointment'));
  if (!appointment) {
    if (patientSide) throw businessRule(`${task.focus?.reference ?? 'Task.focus'} is not a known Appointment`, 'Task.focus');
    return;
  }
  const patient = patientIdOf(appointment);
  // Same answer as for an unknown id, so another patient's appointment ids are not confirmed.
  if (patientSide && task.for?.reference !== `Patient/${patient}`) throw businessRule(`${task.focus?.reference ?? 'Task.focus'} is not a known Appointment`, 'Task.focus');
  // "owner is the service's Organization" (issue 12): the clinic that answers the request.
  const { service } = await rulesOfAppointment(tx, appointment);
  if (!task.owner && service?.providedBy) task.owner = service.providedBy;
}

/** First come, first served: the slot row lock decides; everyone later finds it busy. */
async function acceptOffer(offer: Task, tx: Repository, s: OfferSettings): Promise<void> {
  const lost = (reason: 'taken' | 'expired', message: string) =>
    withFollowUp(conflict(message), async (repo) => {
      await cancelOffer(repo, offer.id!, reason);
    });
  if (offer.status !== 'requested') throw conflict(`This offer is no longer open (${offer.status})`);
  if (isExpired(offer, s.now())) throw lost('expired', `This offer expired at ${offer.restriction!.period!.end}`);
  const slotId = idOf(offer.focus?.reference, 'Slot');
  const slot = slotId ? await tx.lockForUpdate<Slot>('Slot', slotId) : undefined;
  if (!slot || slot.status !== 'free') throw lost('taken', `The offered time (${offer.focus?.reference}) has been taken by someone else`);
  const appointmentId = offer.basedOn?.map((b) => idOf(b.reference, 'Appointment')).find((id) => id) ?? null;
  const appointment = appointmentId ? await tx.lockForUpdate<Appointment>('Appointment', appointmentId) : undefined;
  if (!appointment || !holdsSlot(appointment) || appointment.status !== 'booked') {
    throw withFollowUp(businessRule('The appointment this offer was for is no longer booked', 'Task.basedOn'), async (repo) => {
      await cancelOffer(repo, offer.id!, 'taken');
    });
  }
  // The appointment rule books the new slot (busy, other offers void) and frees the old one, which
  // the slot rule offers onward to the waitlist — all in this transaction.
  await tx.update<Appointment>({ ...appointment, slot: [{ reference: `Slot/${slotId}` }], start: slot.start, end: slot.end }, SYSTEM_ACCESS);
}
