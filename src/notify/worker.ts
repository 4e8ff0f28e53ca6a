/**
 * The outbox worker (issue 14 "Sending never blocks the write; failed sends retry with backoff;
 * nothing is lost on restart"): one per server process. It claims due rows one at a time
 * (outbox-store.ts: SKIP LOCKED and a lease, so WORKERS > 1 processes never take the same row),
 * hands each to the handler of its kind, and marks it delivered, or failed with exponential backoff
 * until `maxAttempts`, after which the row is dead: kept, counted in `helsebro_outbox_depth
 * {status="dead"}` and logged, for an operator to look at (README "Notifications").
 */
import type { Queryable } from '../db/db.js';
import type { Logger } from '../log.js';
import { backoffMs, claim, markDelivered, markFailed, purgeDelivered, type OutboxKind, type OutboxRow } from './outbox-store.js';

export type OutboxHandler = (row: OutboxRow) => Promise<void>;

export interface OutboxWorkerOptions {
  db: Queryable;
  handlers: Partial<Record<OutboxKind, OutboxHandler>>;
  logger: Logger;
  /** How often an idle worker looks for due rows. */
  pollMs?: number;
  /** How long a claim holds; a row whose process stopped is taken up again after it. */
  leaseMs?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Delivered rows are dropped after this long. */
  keepDeliveredMs?: number;
}

export interface OutboxWorker {
  start(): void;
  /** Stops taking rows; a row being delivered finishes (or its lease lapses and another process retries it). */
  stop(): Promise<void>;
  /** Delivers every row due now, then returns how many were handled (tests, and a prompt after a write). */
  runUntilIdle(): Promise<number>;
}

export function createOutboxWorker(o: OutboxWorkerOptions): OutboxWorker {
  const pollMs = o.pollMs ?? 1000;
  const leaseMs = o.leaseMs ?? 60_000;
  const maxAttempts = o.maxAttempts ?? 8;
  const base = o.backoffBaseMs ?? 5_000;
  const cap = o.backoffCapMs ?? 3_600_000;
  const keep = o.keepDeliveredMs ?? 7 * 86_400_000;
  let stopped = true;
  let loop: Promise<void> = Promise.resolve();
  let wakeUp: (() => void) | null = null;
  let lastPurge = 0;

  async function one(): Promise<boolean> {
    const row = await claim(o.db, leaseMs);
    if (!row) return false;
    try {
      const handler = o.handlers[row.kind];
      if (!handler) throw new Error(`no handler for outbox rows of kind ${row.kind}`);
      await handler(row);
      await markDelivered(o.db, row.id);
    } catch (err) {
      const message = (err as Error).message;
      const status = await markFailed(o.db, row.id, message, backoffMs(row.attempts, base, cap), maxAttempts);
      if (status === 'dead') o.logger.error('outbox row dead after its last attempt; left for operators', { outbox: row.id, kind: row.kind, attempts: row.attempts, error: message });
      else o.logger.warn('outbox delivery failed; will retry', { outbox: row.id, kind: row.kind, attempts: row.attempts, error: message });
    }
    return true;
  }

  async function runUntilIdle(): Promise<number> {
    let n = 0;
    while (await one()) n++;
    return n;
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        while (!stopped && (await one()));
        if (!stopped && Date.now() - lastPurge > 3_600_000) {
          lastPurge = Date.now();
          await purgeDelivered(o.db, keep);
        }
      } catch (err) {
        // The database may be away for a moment (issue 17); the rows wait in it.
        if (!stopped) o.logger.warn('outbox worker could not reach the database; retrying', { error: (err as Error).message });
      }
      if (stopped) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wakeUp = null;
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
    runUntilIdle,
  };
}
