/**
 * Writes the notification events of a change into the outbox inside the change's own transaction
 * (issue 14 "written to a durable outbox in the same transaction as the change that causes them"):
 * the write rule sees every create, update, patch and delete, whichever door it came through.
 */
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { eventsFor } from './events.js';
import { enqueue } from './outbox-store.js';

export const notificationOutboxRule: WriteRule = async (change, tx) => {
  for (const event of eventsFor({ interaction: change.interaction, resource: change.resource, previous: change.previous, side: change.access.side })) {
    await enqueue(tx.queryable, 'notification', event);
  }
};
