/**
 * Waiting for a transaction-level advisory lock that another process may hold for longer than one
 * statement's deadline (DB_TIMEOUT_MS, enforced on the server and in the client): a server starting
 * beside another one waits while that one migrates or seeds the demo data. A blocking
 * `pg_advisory_xact_lock` would be cut off by the deadline and the second server would fail to start
 * (issue 11 item 5: "two processes started at the same moment must both come up"), so the lock is
 * tried in short statements until it is free, within a bound of its own.
 */
import type { Queryable } from './db.js';
import { DatabaseUnavailable } from './unavailable.js';

export async function waitForXactLock(q: Queryable, key: number, maxWaitMs = 300_000, pollMs = 200): Promise<void> {
  const until = Date.now() + maxWaitMs;
  for (;;) {
    const rows = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key]);
    if (rows[0]?.ok === true) return;
    if (Date.now() >= until) throw new DatabaseUnavailable(`advisory lock ${key} still held after ${Math.round(maxWaitMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
