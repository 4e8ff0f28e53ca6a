/**
 * PostgreSQL server driver over a `pg` pool. It survives the database going away (issue 17): idle
 * and checked-out clients that lose their server are discarded instead of crashing the process, the
 * pool opens fresh connections once the server is back, and every wait (a connection, a statement)
 * has a deadline, after which the request fails with DatabaseUnavailable (→ 503) instead of hanging.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, Queryable, QueryOptions, Row } from './db.js';
import { classified, DatabaseUnavailable } from './unavailable.js';

// Dates and timestamps stay strings: FHIR keeps the original precision and offset.
pg.types.setTypeParser(1082, (v) => v);
pg.types.setTypeParser(1114, (v) => v);
pg.types.setTypeParser(1184, (v) => v);
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

export interface PgOptions {
  /** Schema to use as search_path (tests use one throwaway schema each). */
  schema?: string;
  max?: number;
  /**
   * Deadline in ms for getting a connection and for each statement (server-side statement_timeout,
   * plus a client-side read timeout a little later for a server that no longer answers at all).
   * 0 = none (tools such as backup, restore and seed).
   */
  timeoutMs?: number;
  /** Called with errors of connections nobody is using at the moment (logged by the server). */
  onIdleError?: (err: Error) => void;
}

/**
 * A prepared statement's name is a digest of its text: the same text gets the same name on every
 * connection, and two texts never share one (pg refuses a name reused with another text).
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `h${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
    if (statementNames.size >= 1_000) statementNames.delete(statementNames.keys().next().value as string);
    statementNames.set(text, name);
  }
  return name;
}

/** The client-side read deadline of a script (a day: a timer cannot be unlimited, and 0 means "the pool's"). */
const SCRIPT_READ_TIMEOUT_MS = 86_400_000;

/** How many statement texts one pool keeps prepared (the grant check, reads by id, confined search shapes). */
export const PREPARED_TEXTS_MAX = 256;

export async function openPostgres(url: string, opts: PgOptions = {}): Promise<Db> {
  if (opts.schema && !/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error('invalid schema name');
  const timeout = opts.timeoutMs ?? 0;
  const settings = ['-c synchronous_commit=on']; // an acknowledged write must survive a crash, whatever the server default says
  // The search tables are small next to memory and hot: a random page costs what a sequential one
  // does. At the default 4 the planner scans 40,000 resources to join 660 date rows (docs/search.md).
  settings.push('-c random_page_cost=1.1');
  if (opts.schema) settings.push(`-c search_path=${opts.schema}`);
  if (timeout > 0) settings.push(`-c statement_timeout=${timeout}`, `-c idle_in_transaction_session_timeout=${timeout * 2}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 20,
    options: settings.join(' '),
    keepAlive: true,
    ...(timeout > 0 ? { connectionTimeoutMillis: timeout, query_timeout: timeout + 1000 } : {}),
  });
  // An idle client that loses its server must not crash the process; the pool drops it.
  pool.on('error', (err) => opts.onIdleError?.(err));
  if (opts.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`).catch((err: unknown) => Promise.reject(classified(err)));
  await pool.query('SELECT 1').catch((err: unknown) => Promise.reject(classified(err)));

  // Texts kept prepared by this pool (QueryOptions.prepare), bounded: pg keeps every named statement
  // of a connection for the connection's life, so a client that sends ever new search shapes must not
  // grow each connection's cache without limit. Beyond the bound a text runs unprepared.
  const kept = new Set<string>();
  const keep = (text: string): boolean => kept.has(text) || (kept.size < PREPARED_TEXTS_MAX && kept.add(text) !== undefined);
  const run = async <T extends Row>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[], opts?: QueryOptions) => {
    try {
      if (opts?.prepare === true && keep(text)) return (await client.query<T>({ name: statementName(text), text, values: (params ?? []) as unknown[] })).rows;
      return (await client.query<T>(text, params as unknown[] | undefined)).rows;
    } catch (err) {
      throw classified(err);
    }
  };

  // A script is a migration (migrate.ts, which lifts the server's statement_timeout for it): the
  // client's read deadline must not cut it off either. Seen: a second server starting on an empty
  // database at load 6 failed with "Query read timeout" while its migrations ran.
  const runScript = async (client: pg.Pool | pg.PoolClient, script: string) => {
    try {
      await client.query({ text: script, query_timeout: SCRIPT_READ_TIMEOUT_MS } as pg.QueryConfig);
    } catch (err) {
      throw classified(err);
    }
  };

  return {
    kind: 'postgres',
    query: <T extends Row = Row>(text: string, params?: readonly unknown[], opts?: QueryOptions) => run<T>(pool, text, params, opts),
    exec: (script: string) => runScript(pool, script),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw classified(err);
      }
      // A checked-out client has no pool listener: without this one, a server that goes away
      // mid-transaction emits an unhandled 'error' and ends the process.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
      };
      client.on('error', onError);
      try {
        await run(client, 'BEGIN');
        const result = await fn({
          query: <R extends Row = Row>(t: string, p?: readonly unknown[], o?: QueryOptions) => run<R>(client, t, p, o),
          exec: (script: string) => runScript(client, script),
        });
        // Only a COMMIT that returned acknowledges the write; if it fails the caller gets the error.
        await run(client, 'COMMIT');
        return result;
      } catch (err) {
        if (err instanceof DatabaseUnavailable) lost ??= err;
        if (!lost) await client.query('ROLLBACK').catch((e: Error) => (lost = e));
        throw err;
      } finally {
        client.removeListener('error', onError);
        // A broken connection is destroyed, not returned to the pool for the next request.
        client.release(lost ?? undefined);
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      if (opts.schema) await pool.query(`DROP SCHEMA IF EXISTS ${opts.schema} CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}
