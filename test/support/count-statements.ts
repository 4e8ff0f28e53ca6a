/**
 * Counts the SQL statements sent through a database handle (and the transactions it opens), at the
 * driver, while a test runs requests over HTTP (test/access/statements.test.ts, the push tests,
 * bench/push-cost.ts). Statements keep their options, so prepared statements stay prepared.
 */
import type { Db, Queryable } from '../../src/db/db.js';

export function countStatements(db: Db): { take(): string[]; stop(): void } {
  const seen: string[] = [];
  const original = { query: db.query, transaction: db.transaction };
  const wrap = (q: Queryable): Queryable => ({
    query: (text, params, opts) => {
      seen.push(text.replace(/\s+/g, ' ').trim());
      return q.query(text, params, opts);
    },
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
