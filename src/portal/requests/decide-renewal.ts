/**
 * Which prescriptions may be renewed (FAQ 001 "Can I see medications?": "you can request prescription
 * renewals"; issue 13: "active or recently ended"). A pure decision over the MedicationRequest:
 *  - `active`: renewable (the usual case: the prescription runs out or its last dispensing is used);
 *  - `completed`: renewable while it ended within RENEWAL_WINDOW_MONTHS — it ended when its
 *    `dispenseRequest.validityPeriod` ended, else a year after `authoredOn` (a Norwegian e-prescription
 *    is valid for one year unless the prescriber says otherwise);
 *  - `stopped`, `cancelled`, `on-hold`: the prescriber ended or paused it on purpose; the patient
 *    writes a message instead of asking for the same prescription again;
 *  - `entered-in-error`, `draft`, `unknown`: not a prescription the patient holds;
 *  - an intent other than an order (a plan or proposal) is not a prescription.
 */
import type { MedicationRequest } from 'fhir/r4';

export const RENEWAL_WINDOW_MONTHS = 12;
const ORDER_INTENTS: readonly MedicationRequest['intent'][] = ['order', 'original-order', 'reflex-order', 'filler-order', 'instance-order'];

export type RenewalDecision = { renewable: true } | { renewable: false; why: string };

/** When a prescription stops being valid: validity end, else one year after it was written; null if unknown. */
export function endOf(mr: MedicationRequest): Date | null {
  const end = mr.dispenseRequest?.validityPeriod?.end;
  if (end && !Number.isNaN(Date.parse(end))) return new Date(end);
  if (mr.authoredOn && !Number.isNaN(Date.parse(mr.authoredOn))) {
    const d = new Date(mr.authoredOn);
    d.setUTCFullYear(d.getUTCFullYear() + 1);
    return d;
  }
  return null;
}

export function decideRenewable(mr: MedicationRequest, now: Date): RenewalDecision {
  const ref = `MedicationRequest/${mr.id}`;
  if (!ORDER_INTENTS.includes(mr.intent)) return { renewable: false, why: `${ref} is a ${mr.intent}, not a prescription` };
  switch (mr.status) {
    case 'active':
      return { renewable: true };
    case 'completed': {
      const end = endOf(mr);
      const cutoff = new Date(now);
      cutoff.setUTCMonth(cutoff.getUTCMonth() - RENEWAL_WINDOW_MONTHS);
      if (!end) return { renewable: false, why: `${ref} has ended and its end date is unknown` };
      if (end < cutoff) return { renewable: false, why: `${ref} ended on ${end.toISOString().slice(0, 10)}, more than ${RENEWAL_WINDOW_MONTHS} months ago; ask the clinic for a new prescription in a message or at your next appointment` };
      return { renewable: true };
    }
    case 'stopped':
    case 'cancelled':
    case 'on-hold':
      return { renewable: false, why: `${ref} was ${mr.status === 'on-hold' ? 'put on hold' : mr.status} by the prescriber; send the clinic a message instead` };
    default:
      return { renewable: false, why: `${ref} has status ${mr.status} and cannot be renewed` };
  }
}
