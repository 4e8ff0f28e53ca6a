/**
 * Assembles notifications for one server process (src/server.ts): the development senders, the
 * outbox worker with a handler per row kind, and the outbox-depth gauge.
 */
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { registerOutboxDepth } from '../http/metrics.js';
import type { Logger } from '../log.js';
import { deliverNotification } from './deliver-notification.js';
import { depth } from './outbox-store.js';
import { fileSenders, type Senders } from './senders.js';
import { subscriptionHandlers } from './subscriptions/handlers.js';
import { createOutboxWorker, type OutboxWorker, type OutboxWorkerOptions } from './worker.js';

export interface NotificationOptions {
  config: Pick<Config, 'baseUrl' | 'fhirBase' | 'production' | 'notifyOutboxDir'>;
  db: Db;
  repo: Repository;
  logger: Logger;
  /** Default: the development file senders in NOTIFY_OUTBOX_DIR. */
  senders?: Senders;
  worker?: Partial<Pick<OutboxWorkerOptions, 'pollMs' | 'leaseMs' | 'maxAttempts' | 'backoffBaseMs' | 'backoffCapMs'>>;
  /** Subscription delivery limits (tests shorten them). */
  restHook?: { timeoutMs?: number; maxResponseBytes?: number };
}

export function createNotificationWorker(o: NotificationOptions): OutboxWorker {
  const senders = o.senders ?? fileSenders(o.config.notifyOutboxDir);
  const worker = createOutboxWorker({
    db: o.db,
    logger: o.logger,
    ...o.worker,
    handlers: {
      notification: (row) => deliverNotification(row, { repo: o.repo, senders, logger: o.logger, portalUrl: o.config.baseUrl }),
      ...subscriptionHandlers({ repo: o.repo, logger: o.logger, production: o.config.production, fhirBase: o.config.fhirBase, ...o.restHook }),
    },
  });
  return worker;
}

/** The process's worker, started, with the gauge reading this database. */
export function startNotifications(o: NotificationOptions): { stop(): Promise<void> } {
  const worker = createNotificationWorker(o);
  const read = () => depth(o.db);
  registerOutboxDepth(read);
  worker.start();
  return {
    async stop() {
      await worker.stop();
      registerOutboxDepth(null);
    },
  };
}
