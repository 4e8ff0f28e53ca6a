/**
 * Counts the SQL statements sent through a database handle (and the transactions it opens), at the
 * driver, while a test runs requests over HTTP (test/access/statements.test.ts, the push tests,
 * bench/push-cost.ts). Statements keep their options, so prepared statements stay prepared.
 * `around` may watch each statement as it runs (the push bench times them and explains some).
 */
import type { Db, Queryable, Row } from '../../src/db/db.js';

export type AroundStatement = (text: string, running: Promise<Row[]>, q: Queryable, params?: readonly unknown[]) => Promise<Row[]>;

export function countStatements(db: Db, around?: AroundStatement): { take(): string[]; stop(): void } {
  const seen: string[] = [];
  const original = { query: db.query, transaction: db.transaction };
  const wrap = (q: Queryable): Queryable => ({
    query: (<T extends Row>(text: string, params?: readonly unknown[], opts?: Parameters<Queryable['query']>[2]): Promise<T[]> => {
      const t = text.replace(/\s+/g, ' ').trim();
      seen.push(t);
      const running = q.query<T>(text, params, opts);
      return (around ? around(t, running, q, params) : running) as Promise<T[]>;
    }) as Queryable['query'],
    exec: (script) => {
      seen.push(script.replace(/\s+/g, ' ').trim());
      return q.exec(script);
    },
  });
  const mutable = db as { -readonly [K in keyof Db]: Db[K] };
  mutable.query = wrap({ query: original.query.bind(db), exec: db.exec.bind(db) }).query;
  mutable.transaction = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    seen.push('BEGIN');
    return original.transaction.call<Db, [(tx: Queryable) => Promise<T>], Promise<T>>(db, (tx) => fn(wrap(tx))).finally(() => seen.push('COMMIT'));
  };
  return {
    take: () => seen.splice(0),
    stop: () => Object.assign(mutable, original),
  };
}
