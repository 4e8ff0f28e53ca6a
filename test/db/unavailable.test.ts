/**
 * Database outages are one DatabaseUnavailable error, rendered as 503 + Retry-After with a
 * `transient` OperationOutcome (issue 17). The end-to-end stop/start under load is in the
 * reliability suite (npm run test:reliability); these are the pieces on real connections.
 */
import net from 'node:net';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { openPostgres } from '../../src/db/pg.js';
import { asDatabaseUnavailable, DatabaseUnavailable } from '../../src/db/unavailable.js';
import { errorHandler } from '../../src/http/render-error.js';
import { createLogger } from '../../src/log.js';

const onPostgres = /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '');

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('database unavailable → 503', () => {
  it('a refused connection is DatabaseUnavailable, a SQL error is not', async () => {
    const port = await closedPort();
    const err = await openPostgres(`postgres://nobody@127.0.0.1:${port}/none`, { timeoutMs: 1000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(DatabaseUnavailable);
    expect(asDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' }))).to.equal(null);
    expect(asDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).to.be.instanceOf(DatabaseUnavailable);
    expect(asDatabaseUnavailable(Object.assign(new Error('x'), { code: '08006' }))).to.be.instanceOf(DatabaseUnavailable);
    expect(asDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).to.be.instanceOf(DatabaseUnavailable);
  });

  it('the one error renderer answers 503, Retry-After and a transient OperationOutcome without internals', async () => {
    const port = await closedPort();
    const app = express();
    app.get('/x', async (_req, _res, next) => {
      await openPostgres(`postgres://nobody@127.0.0.1:${port}/none`, { timeoutMs: 1000 }).catch(next);
    });
    app.use(errorHandler(createLogger('silent')));
    const res = await request(app).get('/x');
    expect(res.status).to.equal(503);
    expect(res.headers['retry-after']).to.equal('5');
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.body.issue[0].code).to.equal('transient');
    expect(JSON.stringify(res.body)).not.to.match(/ECONNREFUSED|127\.0\.0\.1|stack/);
  });

  it('a statement past the deadline is DatabaseUnavailable, and the pool keeps serving (PostgreSQL)', async function () {
    // PGlite is in-process: there is no connection to lose and no statement_timeout to run into.
    if (!onPostgres) this.skip();
    const db = await openPostgres(process.env.DATABASE_URL!, { timeoutMs: 300, max: 2 });
    try {
      const err = await db.query('SELECT pg_sleep(2)').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(DatabaseUnavailable);
      const inTx = await db.transaction((tx) => tx.query('SELECT pg_sleep(2)')).then(
        () => null,
        (e: unknown) => e,
      );
      expect(inTx).to.be.instanceOf(DatabaseUnavailable);
      expect(await db.query<{ one: number }>('SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('a migration script runs past the request deadline: neither the server nor the client cuts it off (PostgreSQL)', async function () {
    // A second server starting on an empty database at high load failed with "Query read timeout"
    // while its migrations ran (workers.test.ts): migrate.ts lifts statement_timeout, the client must too.
    if (!onPostgres) this.skip();
    const db = await openPostgres(process.env.DATABASE_URL!, { timeoutMs: 300, max: 2 });
    try {
      await db.transaction(async (tx) => {
        await tx.query('SET LOCAL statement_timeout = 0');
        await tx.exec('SELECT pg_sleep(1.6); SELECT 1;');
      });
      // An ordinary statement keeps its deadline.
      const err = await db.query('SELECT pg_sleep(2)').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(DatabaseUnavailable);
    } finally {
      await db.close();
    }
  });

  it('a server-side disconnect mid-transaction is DatabaseUnavailable and does not end the process (PostgreSQL)', async function () {
    if (!onPostgres) this.skip(); // PGlite has no server connection to terminate
    const db = await openPostgres(process.env.DATABASE_URL!, { timeoutMs: 2000, max: 2 });
    try {
      const err = await db
        .transaction(async (tx) => {
          await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(DatabaseUnavailable);
      expect(await db.query<{ one: number }>('SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('a transaction the server ended for idling (the process waited for a CPU between two statements) is DatabaseUnavailable, not a 500 (PostgreSQL)', async function () {
    if (!onPostgres) this.skip(); // PGlite has no idle_in_transaction_session_timeout
    // idle_in_transaction_session_timeout is twice the deadline: 600 ms here.
    const db = await openPostgres(process.env.DATABASE_URL!, { timeoutMs: 300, max: 2 });
    try {
      const err = await db
        .transaction(async (tx) => {
          await tx.query('SELECT 1');
          // The event loop is held (a starved or busy process) past the idle timeout: PostgreSQL
          // ends the session, and its FATAL is still unread when the next statement goes out, so
          // that statement is the one that receives it (SQLSTATE 25P03).
          const until = Date.now() + 1500;
          while (Date.now() < until) {
            // busy
          }
          await tx.query('SELECT 2');
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, String((err as { code?: string })?.code)).to.be.instanceOf(DatabaseUnavailable);
      expect(await db.query<{ one: number }>('SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
