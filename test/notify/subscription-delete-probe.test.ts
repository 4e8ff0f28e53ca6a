/**
 * A DELETE asks the cheap watch condition creates and updates use (subscription-watch.ts) before it
 * runs the Subscription search (issue 11): over HTTP with the dev-system token, a deletion of a type
 * no active rest-hook Subscription names runs no Subscription search, and its deletion rides in the
 * statement that stores its access log; a deletion of a watched resource still notifies, and one the
 * criteria do not match stays silent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Subscription } from 'fhir/r4';
import request from 'supertest';
import { createTestContext, type TestContext } from '../support/app.js';
import { countStatements } from '../support/count-statements.js';
import { until } from '../support/until.js';

const FHIR = 'application/fhir+json';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a DELETE and the Subscription watch condition (issue 11)', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let hook: http.Server;
  let endpoint: string;
  const hits: Array<{ ref: string; interaction: string }> = [];

  before(async () => {
    ctx = await createTestContext();
    hook = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push({ ref: String(req.headers['x-helsebro-resource'] ?? ''), interaction: String(req.headers['x-helsebro-interaction'] ?? '') });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await ctx?.close();
    hook?.closeAllConnections();
    await new Promise((r) => hook?.close(r));
  });

  const post = async (body: object): Promise<string> => {
    const res = await request(ctx.app).post(`/fhir/${(body as { resourceType: string }).resourceType}`).set('Content-Type', FHIR).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  };
  const subscribe = async (criteria: string): Promise<string> => {
    const id = await post({ resourceType: 'Subscription', status: 'requested', reason: 'test', criteria, channel: { type: 'rest-hook', endpoint } } satisfies Subscription);
    await until('active', async () => (await request(ctx.app).get(`/fhir/Subscription/${id}`)).body.status === 'active');
    return id;
  };
  const observation = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${patient}` } });
  /** The statements of one request, without the outbox worker's polls (which may run meanwhile). */
  const statementsOf = async (send: () => Promise<void>): Promise<string[]> => {
    const counter = countStatements(ctx.db);
    try {
      await send();
      return counter.take().filter((s) => !/\boutbox\b/.test(s) || /^WITH /.test(s));
    } finally {
      counter.stop();
    }
  };

  it('deleting a resource of a type no Subscription watches runs no Subscription search, and is stored with its access log by one statement', async () => {
    const patient = await post({ resourceType: 'Patient', name: [{ family: 'Slett' }] });
    await subscribe(`Patient?_id=${patient}`); // active, but for another type
    const obs = await post(observation(patient));

    const sql = await statementsOf(async () => {
      const res = await request(ctx.app).delete(`/fhir/Observation/${obs}`);
      expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 204]);
    });
    const all = sql.join('\n');
    const naming = sql.filter((s) => /Subscription/.test(s));
    expect(naming, all).to.have.length(1);
    expect(naming[0], 'only the watch condition asks about Subscriptions').to.match(/split_part/);
    expect(sql.filter((s) => /\bsp_token\b/.test(s)), 'no search').to.deep.equal([]);
    const write = sql.filter((s) => /UPDATE resources/.test(s));
    expect(write, all).to.have.length(1);
    expect(write[0], 'the tombstone and the access log in one statement').to.match(/INSERT INTO resource_history[\s\S]*INSERT INTO access_log/);
    // The token check, BEGIN, the row lock, its visibility, the watch condition, the write, COMMIT (was 10).
    expect(sql.length, all).to.be.at.most(7);

    // The deletion took effect as before: gone, a DELETE version in history, logged for the patient.
    expect((await request(ctx.app).get(`/fhir/Observation/${obs}`)).status).to.equal(410);
    const history = await request(ctx.app).get(`/fhir/Observation/${obs}/_history`);
    expect(history.body.entry.map((e: { request?: { method?: string } }) => e.request?.method)).to.deep.equal(['DELETE', 'POST']);
    const log = await request(ctx.app).get(`/fhir/AuditEvent?patient=Patient/${patient}&_count=50`);
    expect(JSON.stringify(log.body), 'the deletion is in the access log').to.include(`Observation/${obs}`);
    await sleep(300);
    expect(hits.filter((h) => h.ref === `Observation/${obs}`)).to.deep.equal([]);
  });

  it('deleting a watched resource that matches notifies with interaction delete; one that does not match stays silent', async () => {
    const patient = await post({ resourceType: 'Patient', name: [{ family: 'Varsle' }] });
    await subscribe(`Observation?subject=Patient/${patient}`);
    const matched = await post(observation(patient));
    const unmatched = await post(observation('en-annen'));
    await until('the create', async () => hits.some((h) => h.ref === `Observation/${matched}` && h.interaction === 'create'));

    expect((await request(ctx.app).delete(`/fhir/Observation/${unmatched}`)).status).to.be.oneOf([200, 204]);
    expect((await request(ctx.app).delete(`/fhir/Observation/${matched}`)).status).to.be.oneOf([200, 204]);
    await until('the deletion', async () => hits.some((h) => h.ref === `Observation/${matched}` && h.interaction === 'delete'));
    await sleep(300);
    expect(hits.filter((h) => h.ref === `Observation/${matched}` && h.interaction === 'delete')).to.have.length(1);
    expect(hits.filter((h) => h.ref === `Observation/${unmatched}`)).to.deep.equal([]);
    expect((await request(ctx.app).get(`/fhir/Observation/${matched}`)).status).to.equal(410);
  });
});
