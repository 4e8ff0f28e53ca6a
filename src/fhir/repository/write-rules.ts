/**
 * The port through which business rules judge writes (architecture.md, "a business rule inside the
 * generic repository"). The repository knows no rule itself: rules are handed in when the server is
 * assembled (`src/server.ts` createRepository) and run inside the write's transaction, after the
 * access context's own check, for every create, update, patch and delete — whichever door the write
 * came through (REST, batch/transaction entries, conditional writes, operations, bridges).
 */
import type { Resource } from 'fhir/r4';
import type { AccessContext, WriteInteraction } from '../../access/access-context.js';
import type { Repository } from './repository.js';

export interface WriteChange {
  interaction: WriteInteraction;
  /** The version about to be stored (server meta stamped); for a delete, the version being deleted. */
  resource: Resource;
  /** The current version before this write, if any. */
  previous: Resource | undefined;
  access: AccessContext;
}

/**
 * Throws a FhirError to refuse the write. `tx` is bound to the write's transaction, so whatever a rule
 * reads is consistent with the write and whatever it writes commits or rolls back with it.
 */
export type WriteRule = (change: WriteChange, tx: Repository) => Promise<void>;

/*
 * A rule may change `change.resource` before it is stored (e.g. copy a booked Slot's start and end
 * into the Appointment): the repository stores, indexes and files into compartments the object the
 * rules leave behind. Rules run after validation and the access check, so a rule changes only fields
 * whose validity and access it vouches for itself.
 */

/**
 * A refusal that also needs something done although its transaction rolls back (an offer accepted
 * too late is answered 409 *and* cancelled). The repository runs `afterRollback` in a transaction of
 * its own after the rollback (outermost transaction only), then rethrows the refusal.
 */
export type FollowUp = (repo: Repository) => Promise<void>;

export function withFollowUp<E extends Error>(err: E, afterRollback: FollowUp): E {
  Object.defineProperty(err, 'afterRollback', { value: afterRollback, enumerable: false });
  return err;
}

export function afterRollbackOf(err: unknown): FollowUp | undefined {
  const f = err instanceof Error ? (err as Error & { afterRollback?: unknown }).afterRollback : undefined;
  return typeof f === 'function' ? (f as FollowUp) : undefined;
}
