/**
 * R4 Subscriptions with a rest-hook channel for system clients (issue 14), over HTTP against the
 * server as buildServer assembles it (its own outbox worker running): requested → active, a
 * notification per matching change with an id-only (empty) body, a Bundle of ids when a payload is
 * asked for, endpoints refused with 422, redirects not followed (the Subscription goes to error),
 * and the outbox depth at /metrics.
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

describe('FHIR Subscriptions, rest-hook (issue 14)', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let hook: http.Server;
  let other: http.Server;
  let base: string;
  const hits: Hit[] = [];
  const otherHits: Hit[] = [];

  const listen = async (server: http.Server) => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const recorder = (into: Hit[], answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) => http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      into.push({ path: req.url ?? '', headers: req.headers, body });
      answer(req, res);
    });
  });

  before(async () => {
    ctx = await createTestContext();
    other = recorder(otherHits, (_req, res) => res.end('ok'));
    const otherBase = await listen(other);
    hook = recorder(hits, (req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: `${otherBase}/stolen` });
        return res.end();
      }
      res.writeHead(200).end('ok');
    });
    base = await listen(hook);
  });
  after(async () => {
    await ctx?.close();
    for (const s of [hook, other]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
  });

  const subscription = (endpoint: string, criteria: string, extra: Partial<Subscription['channel']> = {}): Subscription => ({
    resourceType: 'Subscription', status: 'requested', reason: 'Varsle portalens backend', criteria,
    channel: { type: 'rest-hook', endpoint, ...extra },
  });
  const create = (s: Subscription) => request(ctx.app).post('/fhir/Subscription').set('Content-Type', FHIR).send(s);
  const read = async (id: string) => (await request(ctx.app).get(`/fhir/Subscription/${id}`)).body as Subscription;
  const observation = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${patient}` } });

  it('a requested Subscription becomes active, and a matching change is notified with an empty body and the id in a header', async () => {
    const p1 = (await request(ctx.app).post('/fhir/Patient').set('Content-Type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Abonnent' }] })).body.id as string;
    const res = await create(subscription(`${base}/hook`, `Observation?subject=Patient/${p1}`, { header: ['Authorization: Bearer hook-secret'] }));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.status).to.equal('requested');
    const id = res.body.id as string;
    await until('active', async () => (await read(id)).status === 'active');

    const miss = await request(ctx.app).post('/fhir/Observation').set('Content-Type', FHIR).send(observation('someone-else'));
    expect(miss.status).to.equal(201);
    const hit = await request(ctx.app).post('/fhir/Observation').set('Content-Type', FHIR).send(observation(p1));
    const obsId = hit.body.id as string;
    const got = await until('a notification', async () => hits.find((h) => h.headers['x-helsebro-resource'] === `Observation/${obsId}`));
    expect(got.path).to.equal('/hook');
    expect(got.body).to.equal('');
    expect(got.headers['content-length']).to.equal('0');
    expect(got.headers['x-helsebro-subscription']).to.equal(`Subscription/${id}`);
    expect(got.headers.authorization).to.equal('Bearer hook-secret');
    // An update notifies again; the other patient's Observation never did.
    expect((await request(ctx.app).put(`/fhir/Observation/${obsId}`).set('Content-Type', FHIR).send({ ...hit.body, status: 'amended' })).status).to.equal(200);
    await until('a second notification', async () => hits.filter((h) => h.headers['x-helsebro-resource'] === `Observation/${obsId}`).length === 2);
    expect(hits.some((h) => h.headers['x-helsebro-resource'] === `Observation/${miss.body.id}`)).to.equal(false);
  });

  it('with payload application/fhir+json the body is a Bundle of ids, never the resource', async () => {
    const res = await create(subscription(`${base}/bundle`, 'Condition?code=http://snomed.info/sct|195967001', { payload: 'application/fhir+json' }));
    expect(res.status).to.equal(201);
    await until('active', async () => (await read(res.body.id)).status === 'active');
    const c = await request(ctx.app).post('/fhir/Condition').set('Content-Type', FHIR).send({ resourceType: 'Condition', code: { coding: [{ system: 'http://snomed.info/sct', code: '195967001' }], text: 'Astma' }, subject: { reference: 'Patient/x' } });
    expect(c.status).to.equal(201);
    const got = await until('a bundle', async () => hits.find((h) => h.path === '/bundle'));
    expect(got.headers['content-type']).to.match(/^application\/fhir\+json/);
    const bundle = JSON.parse(got.body) as Bundle;
    expect(bundle.type).to.equal('history');
    expect(bundle.entry!.map((e) => e.fullUrl)).to.deep.equal([`${ctx.config.fhirBase}/Condition/${c.body.id}`]);
    expect(got.body).to.not.include('Astma');
  });

  it('refuses with 422 an endpoint that is literally private, not https, or carries credentials; and other channels and bad criteria', async () => {
    for (const endpoint of ['https://10.0.0.8/hook', 'https://192.168.1.20/hook', 'https://169.254.169.254/latest', 'https://[fd00::1]/hook', 'https://100.64.0.9/', 'http://hooks.example.no/hook', 'https://u:p@hooks.example.no/']) {
      const res = await create(subscription(endpoint, 'Observation?status=final'));
      expect(res.status, endpoint).to.equal(422);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(JSON.stringify(res.body)).to.match(/endpoint/);
    }
    expect((await create({ ...subscription(`${base}/x`, 'Observation?status=final'), channel: { type: 'email', endpoint: 'mailto:a@b.no' } })).status).to.equal(422);
    expect((await create(subscription(`${base}/x`, 'Observation?nonsense=1'))).status).to.equal(422);
    expect((await create(subscription(`${base}/x`, 'NotAType?x=1'))).status).to.equal(422);
    expect((await create(subscription(`${base}/x`, 'Observation', { payload: 'application/fhir+xml' }))).status).to.equal(422);
    expect((await create(subscription(`${base}/x`, 'Observation', { header: ['Host: evil.example'] }))).status).to.equal(422);
    // None of them was stored.
    const listed = (await request(ctx.app).get('/fhir/Subscription?_count=100')).body as Bundle;
    expect((listed.entry ?? []).map((e) => (e.resource as Subscription).channel.endpoint)).to.not.include('https://10.0.0.8/hook');
  });

  it('a redirect is not followed: the target is never called and the Subscription shows error with the reason', async () => {
    const res = await create(subscription(`${base}/moved`, 'Encounter?status=finished'));
    expect(res.status).to.equal(201);
    await until('active', async () => (await read(res.body.id)).status === 'active');
    const e = await request(ctx.app).post('/fhir/Encounter').set('Content-Type', FHIR).send({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' } });
    expect(e.status).to.equal(201);
    const sub = await until('error', async () => {
      const s = await read(res.body.id);
      return s.status === 'error' ? s : null;
    });
    expect(sub.error).to.match(/302.*redirects are not followed/);
    expect(hits.some((h) => h.path === '/moved')).to.equal(true);
    await sleep(300);
    expect(otherHits).to.deep.equal([]);
    // The failed delivery waits in the outbox for its retry, visible at /metrics.
    const metrics = (await request(ctx.bareApp).get('/metrics')).text;
    expect(metrics).to.match(/^helsebro_outbox_depth\{kind="rest-hook",status="pending"\} [1-9]/m);
  });
});
