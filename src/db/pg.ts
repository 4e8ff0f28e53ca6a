/** PostgreSQL server driver over a `pg` pool. */
import pg from 'pg';
import type { Db, Queryable, Row } from './db.js';

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
}

export async function openPostgres(url: string, opts: PgOptions = {}): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 20,
    // An acknowledged write must survive a crash, whatever the server default says.
    options: `-c synchronous_commit=on${opts.schema ? ` -c search_path=${opts.schema}` : ''}`,
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => undefined);
  if (opts.schema) {
    if (!/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error('invalid schema name');
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
  }
  await pool.query('SELECT 1');

  const run = async <T extends Row>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[]) =>
    (await client.query<T>(text, params as unknown[] | undefined)).rows;

  return {
    kind: 'postgres',
    query: <T extends Row = Row>(text: string, params?: readonly unknown[]) => run<T>(pool, text, params),
    exec: async (script: string) => {
      await pool.query(script);
    },
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: <R extends Row = Row>(t: string, p?: readonly unknown[]) => run<R>(client, t, p),
          exec: async (script: string) => {
            await client.query(script);
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: async () => {
      if (opts.schema) await pool.query(`DROP SCHEMA IF EXISTS ${opts.schema} CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}
