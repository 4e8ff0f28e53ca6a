/**
 * A plain read by id takes a short path through the app (src/app.ts, issue 11): the per-request
 * middleware in one layer, then negotiation and authentication straight to the read. What a client
 * sees must be what every other request gets: request id, security headers, negotiation refusals,
 * 401 without a token, the metrics series of its route — and a read that carries a body still goes
 * through the body parsers as before.
 */
import { expect } from 'chai';
import request from 'supertest';
import { createTestContext, type TestContext } from '../support/app.js';

describe('the read path (issue 11): short, with the same answers', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let id: string;

  before(async () => {
    ctx = await createTestContext();
    const created = await request(ctx.app).post('/fhir/Observation').set('content-type', 'application/fhir+json').send({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' } });
    expect(created.status).to.equal(201);
    id = created.body.id as string;
  });
  after(() => ctx?.close());

  it('answers with the stored resource, its version headers, the request id and the security headers', async () => {
    const res = await request(ctx.app).get(`/fhir/Observation/${id}`).set('x-request-id', 'read-path-1');
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ resourceType: 'Observation', id });
    expect(res.headers.etag).to.equal('W/"1"');
    expect(res.headers['last-modified']).to.be.a('string');
    expect(res.headers['x-request-id']).to.equal('read-path-1');
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers['content-type']).to.match(/^application\/fhir\+json/);
    const head = await request(ctx.app).head(`/fhir/Observation/${id}`);
    expect(head.status).to.equal(200);
    expect(head.headers.etag).to.equal('W/"1"');
  });

  it('refuses what it cannot produce (406) and a request without a token (401), as an OperationOutcome', async () => {
    const xml = await request(ctx.app).get(`/fhir/Observation/${id}`).set('accept', 'application/fhir+xml');
    expect(xml.status).to.equal(406);
    expect(xml.body.resourceType).to.equal('OperationOutcome');
    expect((await request(ctx.app).get(`/fhir/Observation/${id}?_format=xml`)).status).to.equal(406);
    const anonymous = await request(ctx.bareApp).get(`/fhir/Observation/${id}`);
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers['www-authenticate']).to.match(/^Bearer/);
    expect(anonymous.body.resourceType).to.equal('OperationOutcome');
    expect((await request(ctx.app).get('/fhir/Observation/no-such-id')).status).to.equal(404);
  });

  it('a read that carries a body goes through the body parsers: unreadable JSON is a 400, readable JSON is ignored', async () => {
    const broken = await request(ctx.app).get(`/fhir/Observation/${id}`).set('content-type', 'application/fhir+json').send('{"not json');
    expect(broken.status).to.equal(400);
    expect(broken.body.resourceType).to.equal('OperationOutcome');
    const ignored = await request(ctx.app).get(`/fhir/Observation/${id}`).set('content-type', 'application/fhir+json').send({ resourceType: 'Patient' });
    expect(ignored.status).to.equal(200);
    expect(ignored.body.resourceType).to.equal('Observation');
  });

  it('is counted under its route template in /metrics, never under its id', async () => {
    const before = await request(ctx.app).get('/metrics');
    const series = /helsebro_http_requests_total\{method="GET",route="\/fhir\/:type\/:id",status="200"\} (\d+)/;
    const count = (text: string) => Number(series.exec(text)?.[1] ?? 0);
    expect((await request(ctx.app).get(`/fhir/Observation/${id}`)).status).to.equal(200);
    const after = await request(ctx.app).get('/metrics');
    expect(count(after.text)).to.equal(count(before.text) + 1);
    expect(after.text).not.to.include(id);
  });

  it('a plain search takes the short path too, with the same answer, headers and metrics series as before', async () => {
    const created = await request(ctx.app).post('/fhir/Patient').set('content-type', 'application/fhir+json').send({ resourceType: 'Patient', name: [{ family: 'Kort' }] });
    const patient = created.body.id as string;
    expect((await request(ctx.app).post('/fhir/Observation').set('content-type', 'application/fhir+json').send({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${patient}` } })).status).to.equal(201);
    const series = (route: string) => new RegExp(`helsebro_http_requests_total\\{method="GET",route="${route.replace(/\//g, '\\/')}",status="200"\\} (\\d+)`);
    const count = (text: string, route: string) => Number(series(route).exec(text)?.[1] ?? 0);
    const before = (await request(ctx.app).get('/metrics')).text;
    const byType = await request(ctx.app).get(`/fhir/Observation?subject=Patient/${patient}`).set('x-request-id', 'search-path-1');
    expect(byType.status).to.equal(200);
    expect(byType.body.resourceType).to.equal('Bundle');
    expect(byType.body.entry).to.have.length(1);
    expect(byType.headers['x-request-id']).to.equal('search-path-1');
    expect(byType.headers['cache-control']).to.equal('no-store');
    expect(byType.headers['content-type']).to.match(/^application\/fhir\+json/);
    const inCompartment = await request(ctx.app).get(`/fhir/Patient/${patient}/Observation`);
    expect(inCompartment.status).to.equal(200);
    expect(inCompartment.body.entry).to.have.length(1);
    expect((await request(ctx.app).get('/fhir/Observation?_format=xml')).status, 'negotiation still refuses').to.equal(406);
    const after = (await request(ctx.app).get('/metrics')).text;
    expect(count(after, '/fhir/:type')).to.equal(count(before, '/fhir/:type') + 1);
    expect(count(after, '/fhir/:compartment/:id/:type')).to.equal(count(before, '/fhir/:compartment/:id/:type') + 1);
  });
});
