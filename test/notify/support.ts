/** Shared shapes for the notification tests. */
import type { Basic } from 'fhir/r4';
import { CS } from '../../src/access/policy.js';
import { CHANNEL_SYSTEM, EVENT_SYSTEM, EXT } from '../../src/notify/codes.js';

/** A notification-preferences record: event → channels (an empty list switches the event off). */
export function preferences(patient: string, choices: Record<string, string[]>): Basic {
  return {
    resourceType: 'Basic',
    code: { coding: [{ system: CS.accountRecord, code: 'notification-preferences' }] },
    subject: { reference: `Patient/${patient}` },
    extension: Object.entries(choices).map(([event, channels]) => ({
      url: EXT.preference,
      extension: [{ url: 'event', valueCoding: { system: EVENT_SYSTEM, code: event } }, ...channels.map((c) => ({ url: 'channel', valueCoding: { system: CHANNEL_SYSTEM, code: c } }))],
    })),
  };
}

