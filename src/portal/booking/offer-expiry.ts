/**
 * Offer expiry (issue 12: "An offer not answered before expiry becomes cancelled with statusReason
 * expired"): a sweep over open offers, also cancelling offers whose slot was taken meanwhile (an
 * offer passed over by a concurrent booking). Run by a periodic timer (startOfferExpiry) and callable
 * with any clock, so tests need not wait.
 */
import type { Slot, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { Logger } from '../../log.js';
import { idOf } from './codes.js';
import { isExpired } from './decide-task.js';
import { openOfferIds } from './facts.js';
import { cancelOffer } from './waitlist-offers.js';

export async function expireOffers(repo: Repository, now: Date): Promise<{ expired: number; taken: number }> {
  const ids = await repo.transaction((tx) => openOfferIds(tx));
  let expired = 0;
  let taken = 0;
  for (const id of ids) {
    await repo.transaction(async (tx) => {
      const task = await tx.read<Task>('Task', id, SYSTEM_ACCESS).catch(() => undefined);
      if (!task || task.status !== 'requested') return;
      if (isExpired(task, now)) {
        if (await cancelOffer(tx, id, 'expired')) expired++;
        return;
      }
      const slotId = idOf(task.focus?.reference, 'Slot');
      const slot = slotId ? await tx.read<Slot>('Slot', slotId, SYSTEM_ACCESS).catch(() => undefined) : undefined;
      if (!slot || slot.status !== 'free') if (await cancelOffer(tx, id, 'taken')) taken++;
    });
  }
  return { expired, taken };
}

/** The periodic sweep; unref'd so it never keeps the process alive, stopped when the server closes. */
export function startOfferExpiry(repo: Repository, logger: Logger, opts: { intervalMs?: number; now?: () => Date } = {}): { stop: () => void } {
  const now = opts.now ?? (() => new Date());
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    expireOffers(repo, now())
      .then((r) => {
        if (r.expired + r.taken > 0) logger.info('earlier-time offers closed', r);
      })
      .catch((err: unknown) => logger.error('offer expiry failed', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => {
        running = false;
      });
  }, opts.intervalMs ?? 60_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
