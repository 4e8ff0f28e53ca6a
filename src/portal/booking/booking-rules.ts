/**
 * The portal's appointment workflows as write rules (write-rules.ts port), installed by
 * src/server.ts: booking and cancelling (Appointment), waitlist offers (Slot), requests and offers
 * (Task), and answers checked against their Questionnaire (QuestionnaireResponse).
 */
import type { WriteRule } from '../../fhir/repository/write-rules.js';
import { judgeQuestionnaire, judgeQuestionnaireResponse, judgeQuestionnaireTask } from '../questionnaires/questionnaire-rules.js';
import { judgeAppointment, judgeSlot } from './appointment-rule.js';
import { judgeTask } from './task-rule.js';
import type { OfferSettings } from './waitlist-offers.js';

export const DEFAULT_OFFER_TTL_MS = 24 * 3_600_000;

export function bookingRules(opts: Partial<OfferSettings> = {}): WriteRule[] {
  const s: OfferSettings = { offerTtlMs: opts.offerTtlMs ?? DEFAULT_OFFER_TTL_MS, now: opts.now ?? (() => new Date()) };
  return [
    async (change, tx) => {
      switch (change.resource.resourceType) {
        case 'Appointment': return judgeAppointment(change, tx, s);
        case 'Slot': return judgeSlot(change, tx, s);
        case 'Task':
          await judgeTask(change, tx, s);
          return judgeQuestionnaireTask(change, tx);
        case 'QuestionnaireResponse': return judgeQuestionnaireResponse(change, tx);
        case 'Questionnaire': return judgeQuestionnaire(change);
        default: return;
      }
    },
  ];
}
