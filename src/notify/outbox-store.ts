/** The outbox rows (migration 009): plain SQL, the same on PGlite and PostgreSQL. */
import type { Queryable } from '../db/db.js';

export type OutboxKind = 'notification' | 'subscription-check' | 'rest-hook';
export type OutboxStatus = 'pending' | 'delivered' | 'dead';

export interface OutboxRow {
  id: string;
  kind: OutboxKind;
  payload: Record<string, unknown>;
  attempts: number;
  doneChannels: string[];
}

export async function enqueue(q: Queryable, kind: OutboxKind, payload: object): Promise<void> {
  await q.query('INSERT INTO outbox (kind, payload) VALUES ($1, $2::jsonb)', [kind, JSON.stringify(payload)]);
}

/**
 * Claims the next due row for `leaseMs`. SKIP LOCKED: two processes claiming at once take different
 * rows; the lease makes the claim outlive the statement, and a lease that lapsed (its process
 * stopped) makes the row claimable again.
 */
export async function claim(q: Queryable, leaseMs: number): Promise<OutboxRow | null> {
  const rows = await q.query<{ id: string | number; kind: OutboxKind; payload: Record<string, unknown> | string; attempts: number; done_channels: string[] }>(
    `UPDATE outbox SET lease_until = now() + ($1::int * interval '1 millisecond'), attempts = attempts + 1
      WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= now() AND (lease_until IS NULL OR lease_until < now())
                  ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id, kind, payload, attempts, done_channels`,
    [leaseMs],
  );
  const r = rows[0];
  if (!r) return null;
  return { id: String(r.id), kind: r.kind, payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload, attempts: Number(r.attempts), doneChannels: r.done_channels ?? [] };
}

/** Records one channel as delivered; false when it already was (another delivery got there first). */
export async function markChannel(q: Queryable, id: string, channel: string): Promise<boolean> {
  const rows = await q.query('UPDATE outbox SET done_channels = array_append(done_channels, $2::text) WHERE id = $1 AND NOT ($2::text = ANY(done_channels)) RETURNING id', [id, channel]);
  return rows.length > 0;
}

export async function markDelivered(q: Queryable, id: string): Promise<void> {
  await q.query("UPDATE outbox SET status = 'delivered', finished = now(), lease_until = NULL, last_error = NULL WHERE id = $1", [id]);
}

/**
 * A failed attempt: back to pending after `delayMs`, or dead (dead letter, kept for operators) once
 * `maxAttempts` are used up. Returns the new status.
 */
export async function markFailed(q: Queryable, id: string, error: string, delayMs: number, maxAttempts: number): Promise<OutboxStatus> {
  const rows = await q.query<{ status: OutboxStatus }>(
    `UPDATE outbox SET status = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END,
            finished = CASE WHEN attempts >= $3 THEN now() ELSE NULL END,
            next_attempt = now() + ($4::int * interval '1 millisecond'), lease_until = NULL, last_error = $2
      WHERE id = $1 RETURNING status`,
    [id, error.slice(0, 500), maxAttempts, Math.round(delayMs)],
  );
  return rows[0]?.status ?? 'dead';
}

/** Rows not yet delivered, by kind and status (the metrics gauge; operators' view of dead letters). */
export async function depth(q: Queryable): Promise<Array<{ kind: string; status: string; count: number }>> {
  const rows = await q.query<{ kind: string; status: string; n: string | number }>("SELECT kind, status, count(*) AS n FROM outbox WHERE status <> 'delivered' GROUP BY kind, status");
  return rows.map((r) => ({ kind: r.kind, status: r.status, count: Number(r.n) }));
}

/** Delivered rows are kept a while for operators, then dropped. */
export async function purgeDelivered(q: Queryable, olderThanMs: number): Promise<void> {
  await q.query("DELETE FROM outbox WHERE status = 'delivered' AND finished < now() - ($1::int * interval '1 millisecond')", [olderThanMs]);
}

/** Exponential backoff with a cap: base·2^(attempt−1), at most `capMs`. */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
