/**
 * One small database interface with two drivers (PGlite in-process, `pg` pool for a server).
 * Both run the same SQL; only positional parameters ($1, $2 …) are used so values are never
 * interpolated into SQL text.
 */
export type Row = Record<string, unknown>;

export interface QueryOptions {
  /**
   * Keep the statement prepared on the connection (PostgreSQL; PGlite too, pglite-prepared.ts): for the few
   * statements every request sends with the same text — the live-grant check, the read by id — so
   * the server parses and plans them once per connection instead of on every request (issue 11: the
   * planning cost more than the execution). Searches only when confined to patients' records (a patient
   * anchors the plan, search/execute.ts). Each pool keeps a bounded number of texts prepared (pg.ts).
   * `'in-process'`: prepared only where parsing and planning is this process's own CPU (PGlite), planned
   * with its values on PostgreSQL (a shape whose generic plan is poor, search/execute.ts).
   */
  prepare?: boolean | 'in-process';
}

export interface Queryable {
  query<T extends Row = Row>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one database transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * Connection counts of a driver with a pool (pg), read by /metrics at every scrape (issue 16 §4);
   * absent for the in-process PGlite, which has one connection and no pool.
   */
  poolStats?(): PoolStats;
}

export interface PoolStats {
  /** Connections open (idle or checked out). */
  total: number;
  idle: number;
  /** Callers waiting for a connection because all `max` are checked out. */
  waiting: number;
}

/** Postgres error codes worth a retry: serialization failure and deadlock. */
export function isRetryableDbError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** Unique violation, used for conditional-create races and client-chosen ids. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '23505';
}
