import { expect } from 'chai';
import request from 'supertest';
import { createTestContext, type TestContext } from '../support/app.js';

describe('HTTP errors are OperationOutcomes with the right status', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext({ bodyLimit: 2048 });
  });
  after(async () => {
    await ctx.close();
  });
  const api = () => request(ctx.app);

  it('malformed JSON → 400 structure, without echoing internals', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send('{"resourceType": "Patient",');
    expect(res.status).to.equal(400);
    expect(res.body.issue[0].code).to.equal('structure');
    expect(JSON.stringify(res.body)).not.to.match(/at .*\.js|node_modules|SELECT/);
  });

  it('XML body → 415; XML Accept → 406; unknown _format → 406', async () => {
    expect((await api().post('/fhir/Patient').set('Content-Type', 'application/fhir+xml').send('<Patient/>')).status).to.equal(415);
    expect((await api().get('/fhir/metadata').set('Accept', 'application/fhir+xml')).status).to.equal(406);
    expect((await api().get('/fhir/metadata?_format=xml')).status).to.equal(406);
  });

  it('a body over the configured limit → 413', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(5000)}</div>` } });
    expect(res.status).to.equal(413);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  it('an invalid resource → 422 naming the JSON path', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send({ resourceType: 'Patient', birthDate: 'yesterday' });
    expect(res.status).to.equal(422);
    expect(JSON.stringify(res.body.issue)).to.contain('birthDate');
  });

  it('body type differing from the URL type → 400', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send({ resourceType: 'Observation', status: 'final', code: {} });
    expect(res.status).to.equal(400);
    expect(res.body.issue[0].expression).to.deep.equal(['resourceType']);
  });

  it('POST on an instance → 405', async () => {
    const res = await api().post('/fhir/Patient/abc').set('Content-Type', 'application/fhir+json').send({ resourceType: 'Patient' });
    expect(res.status).to.equal(405);
  });

  it('unknown paths are 404 OperationOutcomes; /healthz and /readyz answer', async () => {
    expect((await api().get('/nowhere')).body.resourceType).to.equal('OperationOutcome');
    expect((await api().get('/healthz')).status).to.equal(200);
    expect((await api().get('/readyz')).body.status).to.equal('ready');
  });

  it('responses carry a request id and security headers; CORS answers preflight', async () => {
    const res = await api().get('/fhir/metadata').set('Origin', 'https://app.example');
    expect(res.headers['x-request-id']).to.be.a('string');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers['access-control-allow-origin']).to.equal('https://app.example');
    // Beyond discovery and /metadata only known origins (issue 10 hole 9): BASE_URL's is one; test/auth/http-hardening.test.ts has the rest.
    const pre = await api().options('/fhir/Patient').set('Origin', 'http://localhost:8080').set('Access-Control-Request-Method', 'POST');
    expect(pre.status).to.equal(204);
    expect(pre.headers['access-control-allow-origin']).to.equal('http://localhost:8080');
    expect((await api().options('/fhir/Patient').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST')).status).to.equal(403);
  });

  it('the CapabilityStatement lists every R4 type with its interactions and search parameters', async () => {
    const res = await api().get('/fhir/metadata');
    expect(res.body.fhirVersion).to.equal('4.0.1');
    const types = res.body.rest[0].resource as Array<{ type: string; searchParam: Array<{ name: string; type: string }>; interaction: Array<{ code: string }> }>;
    expect(types.length).to.be.greaterThan(140);
    const obs = types.find((t) => t.type === 'Observation')!;
    expect(obs.searchParam.find((p) => p.name === 'code')?.type).to.equal('token');
    expect(obs.interaction.map((i) => i.code)).to.include.members(['read', 'vread', 'update', 'patch', 'delete', 'create', 'search-type', 'history-instance']);
  });
});

describe('the FHIR API without a token', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });

  it('a data request without a bearer token → 401 with WWW-Authenticate; /metadata stays public', async () => {
    const res = await request(ctx.bareApp).get('/fhir/Patient');
    expect(res.status).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer/);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect((await request(ctx.bareApp).get('/fhir/metadata')).status).to.equal(200);
  });
});
