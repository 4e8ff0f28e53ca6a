/**
 * A create is one statement when no Subscription watches its type (issue 11 "create"; the commit
 * probe of subscription-rule.ts, the guard of unit-of-work.ts), and a Subscription made active by
 * another server process over the same database a moment before is still notified of the very next
 * matching create, which is stored once. Two servers share one database here: on PostgreSQL two
 * connection pools on one schema (two processes as `WORKERS` runs them); on PGlite, which is one
 * process, two servers over the one connection.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Subscription } from 'fhir/r4';
import request from 'supertest';
import { testConfig } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';
import { countStatements } from '../support/count-statements.js';
import { until } from '../support/until.js';

const FHIR = 'application/fhir+json';

interface Server {
  app: Express;
  token: string;
  close(): Promise<void>;
}

async function openShared(): Promise<[Db, Db]> {
  const url = process.env.DATABASE_URL;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const a = await openDatabase({ kind: 'postgres', url }, { schema, max: 5 });
    return [a, await openDatabase({ kind: 'postgres', url }, { schema, max: 5 })];
  }
  const db = await openDatabase({ kind: 'pglite', dataDir: null });
  return [db, db];
}

async function serve(db: Db): Promise<Server> {
  const config = testConfig({ accessTokenTtl: 3600 });
  const { app, extraClosers } = await buildServer({ config, db, logger: createLogger('silent'), repo: createRepository(db, config), devIdp: false });
  const res = await request(app).post('/auth/token').auth('dev-system', config.devSystemClientSecret).type('form').send({ grant_type: 'client_credentials', scope: 'system/*.*' });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return { app, token: res.body.access_token as string, close: async () => { for (const c of extraClosers) await c(); } };
}

describe('Subscriptions and the one-statement create (issue 11)', function () {
  this.timeout(120_000);
  let dbs: [Db, Db];
  let a: Server;
  let b: Server;
  let hook: http.Server;
  let endpoint: string;
  const hits: string[] = [];

  before(async () => {
    dbs = await openShared();
    a = await serve(dbs[0]);
    b = await serve(dbs[1]);
    hook = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push(String(req.headers['x-helsebro-resource'] ?? ''));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await a?.close();
    await b?.close();
    hook?.closeAllConnections();
    await new Promise((r) => hook?.close(r));
    await dbs?.[1].close();
    if (dbs && dbs[0] !== dbs[1]) await dbs[0].close();
  });

  const post = (s: Server, body: object) => request(s.app).post(`/fhir/${(body as { resourceType: string }).resourceType}`).set('Authorization', `Bearer ${s.token}`).set('Content-Type', FHIR).send(body);
  const get = (s: Server, path: string) => request(s.app).get(`/fhir/${path}`).set('Authorization', `Bearer ${s.token}`);
  const observation = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${patient}` } });

  it('with no Subscription watching Observations, a create is one statement after the token check: no BEGIN/COMMIT, no Subscription search', async () => {
    const patient = (await post(a, { resourceType: 'Patient', name: [{ family: 'Probe' }] })).body.id as string;
    // A Subscription on another type does not count (it is active once the worker has checked its endpoint).
    const other = await post(b, { resourceType: 'Subscription', status: 'requested', reason: 'test', criteria: `Patient?_id=${patient}`, channel: { type: 'rest-hook', endpoint } } satisfies Subscription);
    expect(other.status, JSON.stringify(other.body)).to.equal(201);
    await until('active', async () => (await get(b, `Subscription/${other.body.id}`)).body.status === 'active');
    await post(a, observation(patient));
    const counter = countStatements(dbs[0]);
    try {
      const res = await post(a, observation(patient));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      // The outbox worker of either server may poll meanwhile; its statements are not the create's.
      const sql = counter.take().filter((s) => !/\boutbox\b/.test(s) || /^WITH s AS/.test(s));
      expect(sql.filter((s) => s === 'BEGIN' || s === 'COMMIT'), sql.join('\n')).to.deep.equal([]);
      expect(sql.filter((s) => /INSERT INTO resources/.test(s)), sql.join('\n')).to.have.length(1);
      expect(sql.filter((s) => /INSERT INTO access_log/.test(s)), 'the access log rides in the same statement').to.have.length(1);
      expect(sql.filter((s) => /\bsp_token\b[\s\S]*Subscription|Subscription[\s\S]*\bsp_token\b/.test(s) && !/INSERT INTO resources/.test(s)), 'no Subscription search').to.deep.equal([]);
      expect(sql.length, sql.join('\n')).to.be.at.most(2);
    } finally {
      counter.stop();
    }
    // Stored once, with its history and index rows, and logged.
    const found = await get(a, `Observation?subject=Patient/${patient}`);
    expect(found.body.entry).to.have.length(2);
    expect(hits.filter((h) => h.startsWith('Observation/'))).to.deep.equal([]);
  });

  it('a Subscription made active through the other server a moment before hears of the very next matching create, which is stored once', async () => {
    const patient = (await post(a, { resourceType: 'Patient', name: [{ family: 'Probe' }] })).body.id as string;
    // Server A has just created Observations with nobody watching: its next create tries one statement first.
    expect((await post(a, observation(patient))).status).to.equal(201);
    const sub = await post(b, { resourceType: 'Subscription', status: 'requested', reason: 'test', criteria: `Observation?subject=Patient/${patient}`, channel: { type: 'rest-hook', endpoint } } satisfies Subscription);
    expect(sub.status, JSON.stringify(sub.body)).to.equal(201);
    await until('active', async () => (await get(b, `Subscription/${sub.body.id}`)).body.status === 'active');

    const counter = countStatements(dbs[0]);
    const created = await post(a, observation(patient));
    const sql = counter.take().filter((s) => !/\boutbox\b/.test(s) || /^WITH s AS/.test(s));
    counter.stop();
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    // The one-statement attempt was refused by its guard (nothing stored) and the write went through a transaction.
    expect(sql.filter((s) => /INSERT INTO resources/.test(s)), sql.join('\n')).to.have.length(2);
    expect(sql.filter((s) => /write_guard/.test(s)), sql.join('\n')).to.have.length(1);
    expect(sql, sql.join('\n')).to.include('BEGIN');
    const ref = `Observation/${created.body.id}`;
    await until('the notification', async () => hits.includes(ref));
    const history = await get(a, `${ref}/_history`);
    expect(history.body.entry, 'one version, not two').to.have.length(1);
    const found = await get(b, `Observation?subject=Patient/${patient}&_id=${created.body.id}`);
    expect(found.body.entry).to.have.length(1);

    // And the one after it (now known to be watched) as well; a create for another patient is not notified.
    const next = await post(a, observation(patient));
    const elsewhere = await post(a, observation('someone-else'));
    await until('the second notification', async () => hits.includes(`Observation/${next.body.id}`));
    expect(hits).to.not.include(`Observation/${elsewhere.body.id}`);
  });

  it('once the Subscription is off, creates go back to one statement and are not notified', async () => {
    const subs = await get(b, 'Subscription?status=active');
    for (const e of subs.body.entry ?? []) {
      const s = e.resource as Subscription;
      const res = await request(b.app).put(`/fhir/Subscription/${s.id}`).set('Authorization', `Bearer ${b.token}`).set('Content-Type', FHIR).send({ ...s, status: 'off' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    }
    const patient = (await post(a, { resourceType: 'Patient', name: [{ family: 'Probe' }] })).body.id as string;
    await post(a, observation(patient)); // learns that nobody watches any more
    const counter = countStatements(dbs[0]);
    let id: string;
    try {
      const res = await post(a, observation(patient));
      expect(res.status).to.equal(201);
      id = res.body.id as string;
      const sql = counter.take().filter((s) => !/\boutbox\b/.test(s) || /^WITH s AS/.test(s));
      expect(sql.filter((s) => s === 'BEGIN'), sql.join('\n')).to.deep.equal([]);
    } finally {
      counter.stop();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(hits).to.not.include(`Observation/${id}`);
  });
});
