import { expect } from 'chai';
import request from 'supertest';
import type { Observation, OperationOutcome, Patient } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

const FHIR = 'application/fhir+json';
const patient = (family = 'Nordmann'): Patient => ({ resourceType: 'Patient', name: [{ family, given: ['Kari'] }], birthDate: '1980-01-31' });

describe('FHIR REST interactions', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });

  const api = () => request(ctx.app);

  it('create assigns id, versionId 1 and lastUpdated, and answers 201 with Location and ETag', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', FHIR).send({ ...patient(), id: 'client-chosen', meta: { versionId: '99' } });
    expect(res.status).to.equal(201);
    expect(res.body.id).to.be.a('string').and.not.equal('client-chosen');
    expect(res.body.meta.versionId).to.equal('1');
    expect(Date.parse(res.body.meta.lastUpdated)).to.be.closeTo(Date.now(), 60_000);
    expect(res.headers.location).to.equal(`http://localhost:8080/fhir/Patient/${res.body.id}/_history/1`);
    expect(res.headers.etag).to.equal('W/"1"');
    expect(res.headers['last-modified']).to.be.a('string');
    expect(res.headers['content-type']).to.match(/^application\/fhir\+json/);
  });

  it('read returns the stored resource; an unknown id is 404 with an OperationOutcome', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Hansen'))).body as Patient;
    const read = await api().get(`/fhir/Patient/${created.id}`);
    expect(read.status).to.equal(200);
    expect(read.body.name[0].family).to.equal('Hansen');
    const missing = await api().get('/fhir/Patient/does-not-exist');
    expect(missing.status).to.equal(404);
    expect((missing.body as OperationOutcome).resourceType).to.equal('OperationOutcome');
    expect(missing.body.issue[0].code).to.equal('not-found');
  });

  it('an unknown resource type is 404 naming the type', async () => {
    const res = await api().get('/fhir/Spaceship/1');
    expect(res.status).to.equal(404);
    expect(res.body.issue[0].diagnostics).to.contain('Spaceship');
  });

  it('update makes version 2; If-Match with a stale version is 412 and changes nothing', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Berg'))).body as Patient;
    const v2 = await api().put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR).set('If-Match', 'W/"1"').send({ ...created, gender: 'female' });
    expect(v2.status).to.equal(200);
    expect(v2.body.meta.versionId).to.equal('2');
    const stale = await api().put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR).set('If-Match', 'W/"1"').send({ ...created, gender: 'male' });
    expect(stale.status).to.equal(412);
    const now = await api().get(`/fhir/Patient/${created.id}`);
    expect(now.body.gender).to.equal('female');
  });

  it('update with a new client id creates the resource (update-as-create) → 201', async () => {
    const res = await api().put('/fhir/Patient/kari-1').set('Content-Type', FHIR).send({ ...patient(), id: 'kari-1' });
    expect(res.status).to.equal(201);
    expect(res.body.id).to.equal('kari-1');
  });

  it('update with a body id different from the URL id is 400', async () => {
    const res = await api().put('/fhir/Patient/a1').set('Content-Type', FHIR).send({ ...patient(), id: 'b2' });
    expect(res.status).to.equal(400);
    expect(res.body.issue[0].expression).to.deep.equal(['Patient.id']);
  });

  it('vread returns each version; history lists them newest first', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Dahl'))).body as Patient;
    await api().put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR).send({ ...created, name: [{ family: 'Dahl-Lie' }] });
    const v1 = await api().get(`/fhir/Patient/${created.id}/_history/1`);
    expect(v1.body.name[0].family).to.equal('Dahl');
    const hist = await api().get(`/fhir/Patient/${created.id}/_history`);
    expect(hist.body.type).to.equal('history');
    expect(hist.body.entry.map((e: { response: { etag: string } }) => e.response.etag)).to.deep.equal(['W/"2"', 'W/"1"']);
  });

  it('PATCH with JSON Patch makes a new version; a failing test op is 422', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Lund'))).body as Patient;
    const ok = await api()
      .patch(`/fhir/Patient/${created.id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/name/0/family', value: 'Lunde' }]);
    expect(ok.status).to.equal(200);
    expect(ok.body.name[0].family).to.equal('Lunde');
    expect(ok.body.meta.versionId).to.equal('2');
    const bad = await api()
      .patch(`/fhir/Patient/${created.id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'test', path: '/name/0/family', value: 'Wrong' }]);
    expect(bad.status).to.equal(422);
  });

  it('delete leaves a versioned tombstone: read is 410, history keeps every version', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Moe'))).body as Patient;
    const del = await api().delete(`/fhir/Patient/${created.id}`);
    expect(del.status).to.equal(200);
    expect((await api().get(`/fhir/Patient/${created.id}`)).status).to.equal(410);
    const hist = await api().get(`/fhir/Patient/${created.id}/_history`);
    expect(hist.body.entry).to.have.length(2);
    expect(hist.body.entry[0].request.method).to.equal('DELETE');
    expect((await api().get(`/fhir/Patient/${created.id}/_history/1`)).status).to.equal(200);
  });

  it('If-None-Match with the current ETag is 304; If-Modified-Since in the future is 304', async () => {
    const created = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send(patient('Vik'))).body as Patient;
    expect((await api().get(`/fhir/Patient/${created.id}`).set('If-None-Match', 'W/"1"')).status).to.equal(304);
    expect((await api().get(`/fhir/Patient/${created.id}`).set('If-None-Match', 'W/"7"')).status).to.equal(200);
    expect((await api().get(`/fhir/Patient/${created.id}`).set('If-Modified-Since', new Date(Date.now() + 3600_000).toUTCString())).status).to.equal(304);
  });

  it('Prefer: return=minimal gives an empty body; return=OperationOutcome gives an outcome', async () => {
    const minimal = await api().post('/fhir/Patient').set('Content-Type', FHIR).set('Prefer', 'return=minimal').send(patient());
    expect(minimal.status).to.equal(201);
    expect(minimal.text).to.equal('');
    expect(minimal.headers.location).to.match(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
    const oo = await api().post('/fhir/Patient').set('Content-Type', FHIR).set('Prefer', 'return=OperationOutcome').send(patient());
    expect(oo.body.resourceType).to.equal('OperationOutcome');
  });

  it('conditional create with If-None-Exist returns the existing match instead of a duplicate', async () => {
    const body: Patient = { ...patient('Strand'), identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: '31818002125' }] };
    const first = await api().post('/fhir/Patient').set('Content-Type', FHIR).set('If-None-Exist', 'identifier=urn:oid:2.16.578.1.12.4.1.4.1|31818002125').send(body);
    expect(first.status).to.equal(201);
    const second = await api().post('/fhir/Patient').set('Content-Type', FHIR).set('If-None-Exist', 'identifier=urn:oid:2.16.578.1.12.4.1.4.1|31818002125').send(body);
    expect(second.status).to.equal(200);
    expect(second.body.id).to.equal(first.body.id);
  });

  it('conditional update and conditional delete act on the single match', async () => {
    const obs: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, identifier: [{ system: 'urn:test', value: 'cond-1' }] };
    const created = await api().put('/fhir/Observation?identifier=urn:test|cond-1').set('Content-Type', FHIR).send(obs);
    expect(created.status).to.equal(201);
    const updated = await api().put('/fhir/Observation?identifier=urn:test|cond-1').set('Content-Type', FHIR).send({ ...obs, status: 'amended' });
    expect(updated.status).to.equal(200);
    expect(updated.body.id).to.equal(created.body.id);
    expect(updated.body.meta.versionId).to.equal('2');
    const del = await api().delete('/fhir/Observation?identifier=urn:test|cond-1');
    expect(del.status).to.equal(200);
    expect((await api().get(`/fhir/Observation/${created.body.id}`)).status).to.equal(410);
  });

  it('serves resource types beyond the first eight (every R4 type)', async () => {
    for (const resourceType of ['Claim', 'ExplanationOfBenefit', 'CarePlan', 'Goal', 'ImagingStudy']) {
      const res = await api().get(`/fhir/${resourceType}`);
      expect(res.status, resourceType).to.equal(200);
    }
  });
});
