/** PGlite driver: real Postgres compiled to WASM, in-process, data in a folder or in memory. */
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryOptions, Row } from './db.js';
import { acquireDataDirLock, type DataDirLock } from './lock.js';
import { PREPARED_TEXTS_MAX } from './pg.js';
import { PgliteStatements } from './pglite-prepared.js';

/** A statement that may write (a data-modifying CTE starts with WITH). */
const WRITES = /^\s*(INSERT|UPDATE|DELETE|WITH)\b/i;

export async function openPglite(dataDir: string | null, onLocked?: () => void): Promise<Db> {
  // PGlite takes no lock of its own: a second process on the same folder would corrupt it.
  const lock: DataDirLock | null = dataDir ? await acquireDataDirLock(dataDir) : null;
  onLocked?.();
  let pg: PGlite;
  try {
    // relaxedDurability=false (the default) waits for the data to be flushed before a query
    // resolves, so an acknowledged write survives kill -9.
    pg = dataDir ? await PGlite.create({ dataDir, relaxedDurability: false }) : await PGlite.create();
  } catch (err) {
    await lock?.release();
    throw err;
  }

  // As for PostgreSQL (pg.ts): index lookups are as cheap as sequential reads on in-memory pages.
  await pg.exec('SET random_page_cost = 1.1');

  // PGlite runs one statement at a time; a transaction must own the connection until it ends,
  // so statements outside it wait for it.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  // PGlite has no autovacuum worker, so nothing runs ANALYZE and the planner works without
  // statistics: after a bulk load it picks nested loops that grow with the square of the data
  // (docs/bench.md). Stand in for autoanalyze: ANALYZE after 8, 16, 32 … committed transactions, so
  // statistics never lag the data by much more than 2×, at a logarithmic total cost.
  let committed = 0;
  let analyzeAt = 8;
  const analyzeWhenDue = () => {
    if (++committed < analyzeAt) return;
    analyzeAt *= 2;
    exclusive(() => pg.exec('ANALYZE')).catch(() => undefined); // statistics are an optimisation: never fail a request for them
  };

  const query = async <T extends Row>(q: Queryable | PGlite, text: string, params?: readonly unknown[]): Promise<T[]> => {
    const res = await (q as PGlite).query<T>(text, params as unknown[] | undefined);
    return res.rows;
  };
  // `prepare` (db.ts): parsed and planned once, not on every call (pglite-prepared.ts).
  const statements = new PgliteStatements(pg, PREPARED_TEXTS_MAX);

  return {
    kind: 'pglite',
    query: async <T extends Row = Row>(text: string, params?: readonly unknown[], opts?: QueryOptions) => {
      const rows = await exclusive(() => (opts?.prepare && statements.accepts(text) ? statements.query<T>(text, params) : query<T>(pg, text, params)));
      // A write committed by one statement of its own (the repository's one-statement create) counts as a transaction.
      if (WRITES.test(text)) analyzeWhenDue();
      return rows;
    },
    exec: (script: string) =>
      exclusive(async () => {
        await pg.exec(script);
      }),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => {
      const result = await exclusive(() =>
        pg.transaction(async (tx) => {
          const q: Queryable = {
            query: async <R extends Row = Row>(t: string, p?: readonly unknown[]) => (await tx.query<R>(t, p as unknown[] | undefined)).rows,
            exec: async (script: string) => {
              await tx.exec(script);
            },
          };
          return fn(q);
        }),
      );
      analyzeWhenDue();
      return result;
    },
    close: async () => {
      await exclusive(async () => {
        await pg.close();
      });
      await lock?.release();
    },
  };
}
