/**
 * The booking write rule (issue 12 "Book", "Cancel", "Reschedule"): every write of an Appointment,
 * through any door, books and frees its slots in the write's own transaction. The Slot row is locked
 * (SELECT … FOR UPDATE) before its status is checked, so of any number of simultaneous bookings of
 * one slot exactly one succeeds and the others get 409 — on PostgreSQL as on PGlite.
 */
import type { Appointment, Slot } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { WriteChange } from '../../fhir/repository/write-rules.js';
import { bookingRulesOf, EXT, isPatientSide } from './codes.js';
import { decideBook, decidePatientChange, decidePatientCreate, holdsSlot, slotIdsOf, wantsWaitlist } from './decide-booking.js';
import { hasReferral, holderIds, openOfferIds, patientIdOf, rulesOfAppointment, serviceOfSlot } from './facts.js';
import { cancelOffer, offerFreedSlot, type OfferSettings } from './waitlist-offers.js';

export async function judgeAppointment(change: WriteChange, tx: Repository, s: OfferSettings): Promise<void> {
  const previous = change.previous as Appointment | undefined;
  if (change.interaction === 'delete') {
    if (holdsSlot(previous)) for (const id of slotIdsOf(previous)) await releaseSlot(tx, id);
    return;
  }
  const next = change.resource as Appointment;
  const patientSide = isPatientSide(change.access.actor);
  if (patientSide) {
    const refusal = previous ? decidePatientChange({ previous, next, rules: (await rulesOfAppointment(tx, previous)).rules, now: s.now() }) : decidePatientCreate(next);
    if (refusal) throw refusal;
  }
  const held = holdsSlot(previous) ? slotIdsOf(previous) : [];
  const holding = holdsSlot(next) ? slotIdsOf(next) : [];
  for (const slotId of holding.filter((id) => !held.includes(id))) await occupySlot(tx, next, slotId, patientSide);
  for (const slotId of held.filter((id) => !holding.includes(id))) await releaseSlot(tx, slotId);
}

/** Books one slot for `a`: locks it, judges, copies its time and service into the appointment, marks it busy. */
async function occupySlot(tx: Repository, a: Appointment, slotId: string, patientSide: boolean): Promise<void> {
  const slot = await tx.lockForUpdate<Slot>('Slot', slotId);
  const service = await serviceOfSlot(tx, slot);
  const rules = bookingRulesOf(service);
  const refusal = decideBook({
    patientSide, slotId, slot, rules, waitlist: wantsWaitlist(a),
    hasReferral: patientSide && rules.referralRequired ? await hasReferral(tx, patientIdOf(a), service?.id) : false,
    heldByOthers: !patientSide && slot?.status === 'busy' ? (await holderIds(tx, slotId)).filter((id) => id !== a.id).length : 0,
  });
  if (refusal) throw refusal;
  // The server's word on when and with whom (issue 12: "copies start/end from the slot").
  a.start = slot!.start;
  a.end = slot!.end;
  if (service?.id && !a.participant.some((p) => p.actor?.reference === `HealthcareService/${service.id}`)) {
    a.participant = [...a.participant, { actor: { reference: `HealthcareService/${service.id}`, display: service.name }, status: 'accepted' }];
  }
  if (rules.video && a.id) {
    a.extension = [...(a.extension ?? []).filter((e) => e.url !== EXT.videoLink), { url: EXT.videoLink, valueUrl: `${rules.video.replace(/\/$/, '')}/${a.id}` }];
  }
  if (slot!.status !== 'busy') await tx.update<Slot>({ ...slot!, status: 'busy' }, SYSTEM_ACCESS);
  // Offers of this slot to others are void now; the booker's own offer (being accepted) is not.
  // SKIP LOCKED: an offer another transaction is accepting right now loses there, with its own 409.
  for (const taskId of await openOfferIds(tx, { slotId })) {
    const own = (await openOfferIds(tx, { slotId, appointmentId: a.id })).includes(taskId);
    if (!own) await cancelOffer(tx, taskId, 'taken', { skipLocked: true });
  }
}

/** Frees a slot (cancel, reschedule, accepted offer); the Slot rule then offers it to the waitlist. */
export async function releaseSlot(tx: Repository, slotId: string): Promise<void> {
  const slot = await tx.lockForUpdate<Slot>('Slot', slotId);
  if (!slot || slot.status !== 'busy') return;
  await tx.update<Slot>({ ...slot, status: 'free' }, SYSTEM_ACCESS);
}

/** A Slot that becomes free (by a cancellation or by the clinic) is offered to the waitlist. */
export async function judgeSlot(change: WriteChange, tx: Repository, s: OfferSettings): Promise<void> {
  if (change.interaction === 'delete') return;
  const next = change.resource as Slot;
  const previous = change.previous as Slot | undefined;
  if (previous?.status === 'busy' && next.status === 'free' && next.id) await offerFreedSlot(tx, next.id, next, s);
}
