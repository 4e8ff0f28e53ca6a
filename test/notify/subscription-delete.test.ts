/**
 * Deletions reach the Subscriptions that matched the deleted resource (README "Decisions",
 * Subscriptions): over HTTP with the dev-system token, through plain DELETE, a transaction entry and a
 * conditional delete; id-only (empty body, `X-Helsebro-Interaction: delete`) and with a Bundle of
 * ids (`request.method` DELETE, no resource). A resource the criteria never matched stays silent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Bundle, Subscription } from 'fhir/r4';
import request from 'supertest';
import { createTestContext, type TestContext } from '../support/app.js';
import { until } from '../support/until.js';

const FHIR = 'application/fhir+json';
interface Hit { path: string; headers: http.IncomingHttpHeaders; body: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FHIR Subscriptions are told of deletions', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let hook: http.Server;
  let base: string;
  const hits: Hit[] = [];

  before(async () => {
    ctx = await createTestContext();
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  });
  after(async () => {
    await ctx?.close();
    hook?.closeAllConnections();
    await new Promise((r) => hook?.close(r));
  });

  const subscribe = async (path: string, criteria: string, payload?: string): Promise<string> => {
    const s: Subscription = { resourceType: 'Subscription', status: 'requested', reason: 'Varsle portalens backend', criteria, channel: { type: 'rest-hook', endpoint: `${base}${path}`, ...(payload ? { payload } : {}) } };
    const res = await request(ctx.app).post('/fhir/Subscription').set('Content-Type', FHIR).send(s);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const id = res.body.id as string;
    await until('active', async () => ((await request(ctx.app).get(`/fhir/Subscription/${id}`)).body as Subscription).status === 'active');
    return id;
  };
  const observation = (patient: string, code = 'Puls') => ({ resourceType: 'Observation', status: 'final', code: { text: code }, subject: { reference: `Patient/${patient}` } });
  const post = async (body: object) => {
    const res = await request(ctx.app).post(`/fhir/${(body as { resourceType: string }).resourceType}`).set('Content-Type', FHIR).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  };
  const hitsFor = (ref: string, interaction?: string) => hits.filter((h) => h.headers['x-helsebro-resource'] === ref && (!interaction || h.headers['x-helsebro-interaction'] === interaction));

  it('DELETE of a matching resource is notified id-only, naming the resource and the interaction', async () => {
    const sub = await subscribe('/ids', 'Observation?subject=Patient/slettet-1');
    const obs = await post(observation('slettet-1'));
    const other = await post(observation('ikke-abonnert'));
    await until('the create', async () => hitsFor(`Observation/${obs}`, 'create').length === 1);

    expect((await request(ctx.app).delete(`/fhir/Observation/${obs}`)).status).to.be.oneOf([200, 204]);
    expect((await request(ctx.app).delete(`/fhir/Observation/${other}`)).status).to.be.oneOf([200, 204]);
    const got = await until('the deletion', async () => hitsFor(`Observation/${obs}`, 'delete')[0]);
    expect(got.path).to.equal('/ids');
    expect(got.body).to.equal('');
    expect(got.headers['x-helsebro-subscription']).to.equal(`Subscription/${sub}`);
    // The deleted resource really is gone for the client that hears of it.
    expect((await request(ctx.app).get(`/fhir/Observation/${obs}`)).status).to.equal(410);
    // A second DELETE changes nothing, so it tells nothing; the unmatched one never told anything.
    expect((await request(ctx.app).delete(`/fhir/Observation/${obs}`)).status).to.be.oneOf([200, 204]);
    await sleep(500);
    expect(hitsFor(`Observation/${obs}`, 'delete')).to.have.length(1);
    expect(hitsFor(`Observation/${other}`)).to.deep.equal([]);
  });

  it('with a payload, the deletion is a history Bundle entry with request.method DELETE and no resource', async () => {
    await subscribe('/bundle', 'Condition?subject=Patient/slettet-2', 'application/fhir+json');
    const cond = await post({ resourceType: 'Condition', code: { text: 'Astma' }, subject: { reference: 'Patient/slettet-2' } });
    expect((await request(ctx.app).delete(`/fhir/Condition/${cond}`)).status).to.be.oneOf([200, 204]);
    const got = await until('the deletion', async () => hits.find((h) => h.path === '/bundle' && h.headers['x-helsebro-interaction'] === 'delete'));
    const bundle = JSON.parse(got.body) as Bundle;
    expect(bundle.type).to.equal('history');
    expect(bundle.entry).to.have.length(1);
    expect(bundle.entry![0]!.request).to.deep.equal({ method: 'DELETE', url: `Condition/${cond}` });
    expect(bundle.entry![0]!.fullUrl).to.equal(`${ctx.config.fhirBase}/Condition/${cond}`);
    expect(bundle.entry![0]!.resource).to.equal(undefined);
    expect(got.body).to.not.include('Astma');
  });

  it('the other doors: a DELETE entry in a transaction and a conditional delete are notified too', async () => {
    await subscribe('/doors', 'Observation?subject=Patient/slettet-3');
    const a = await post(observation('slettet-3', 'Blodtrykk'));
    const b = await post({ ...observation('slettet-3', 'Vekt'), identifier: [{ system: 'urn:test:slett', value: 'b-1' }] });
    const tx = await request(ctx.app).post('/fhir').set('Content-Type', FHIR).send({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ request: { method: 'DELETE', url: `Observation/${a}` } }],
    });
    expect(tx.status, JSON.stringify(tx.body)).to.equal(200);
    const cond = await request(ctx.app).delete('/fhir/Observation?identifier=urn:test:slett|b-1');
    expect(cond.status, JSON.stringify(cond.body)).to.be.oneOf([200, 204]);
    await until('both deletions', async () => hitsFor(`Observation/${a}`, 'delete').length === 1 && hitsFor(`Observation/${b}`, 'delete').length === 1);
    expect(hits.filter((h) => h.path === '/doors' && h.headers['x-helsebro-interaction'] === 'delete')).to.have.length(2);
  });
});
