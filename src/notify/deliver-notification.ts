/**
 * Delivers one notification outbox row per the recipient's preferences: in-app as a Basic
 * account-record|notification in their own record, SMS and e-mail through the senders. Each channel
 * is recorded as done when it is, so a retry after a failure sends only what is still missing; the
 * in-app notification and its "done" mark commit together, so it is stored exactly once.
 */
import type { Basic } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { channelsFor, loadPreferences } from './account-records.js';
import { ACCOUNT_RECORD, EVENT_SYSTEM, EVENT_TEXT, EXT, isEvent, type Channel, type EventKind } from './codes.js';
import type { NotificationEvent } from './events.js';
import { markChannel, type OutboxRow } from './outbox-store.js';
import { resolveRecipient } from './recipients.js';
import type { Senders } from './senders.js';

export interface NotificationDeps {
  repo: Repository;
  senders: Senders;
  logger: Logger;
  /** The portal's address, for the link in SMS and e-mail. */
  portalUrl: string;
}

/** The in-app notification as stored (exported for tests and the README example). */
export function inAppNotification(patientId: string, event: EventKind, focus: string, today = new Date()): Basic {
  return {
    resourceType: 'Basic',
    code: { coding: [{ system: ACCOUNT_RECORD, code: 'notification' }], text: EVENT_TEXT[event] },
    subject: { reference: `Patient/${patientId}` },
    created: today.toISOString().slice(0, 10),
    extension: [
      { url: EXT.event, valueCoding: { system: EVENT_SYSTEM, code: event } },
      { url: EXT.focus, valueReference: { reference: focus } },
    ],
  };
}

function eventOf(payload: Record<string, unknown>): NotificationEvent | null {
  const { event, recipient, patient, focus } = payload;
  if (!isEvent(event) || typeof recipient !== 'string' || typeof focus !== 'string') return null;
  return { event, recipient, patient: typeof patient === 'string' ? patient : null, focus };
}

export async function deliverNotification(row: OutboxRow, d: NotificationDeps): Promise<void> {
  const e = eventOf(row.payload);
  if (!e) {
    d.logger.warn('notification outbox row without a valid event; dropped', { outbox: row.id });
    return;
  }
  const dest = await resolveRecipient(d.repo, e.recipient);
  if (!dest) {
    d.logger.info('notification recipient no longer exists; nothing sent', { outbox: row.id, event: e.event });
    return;
  }
  // Without a record of their own, a grantee or proxy has no portal inbox and no stored choices.
  const channels: readonly Channel[] = dest.record ? channelsFor(await loadPreferences(d.repo, dest.record), e.event) : ['sms', 'email'];
  for (const channel of channels) {
    if (row.doneChannels.includes(channel)) continue;
    if (channel === 'in-app') {
      const record = dest.record;
      if (!record) continue;
      await d.repo.transaction(async (tx) => {
        if (!(await markChannel(tx.queryable, row.id, channel))) return; // another delivery stored it
        await tx.create(inAppNotification(record, e.event, e.focus), SYSTEM_ACCESS);
      });
      continue;
    }
    const to = channel === 'sms' ? dest.phone : dest.email;
    if (to) {
      await d.senders[channel].send({ key: `${row.id}:${channel}`, channel, to, event: e.event, text: EVENT_TEXT[e.event], link: d.portalUrl });
    } else {
      d.logger.info('notification channel chosen but no address on record; skipped', { outbox: row.id, event: e.event, channel });
    }
    await markChannel(d.repo.queryable, row.id, channel);
  }
}
