/**
 * Reads answered with the stored JSON text (issue 11 §3): read by id, vread and search Bundles send
 * what the database holds without parse + re-stringify. What a client sees must not change: the same
 * resource as the object path gives (`_pretty=true` still takes it), resourceType first, versionId and
 * lastUpdated from the row, the same ETag/Last-Modified and conditional-read answers, and stored strings
 * that look like the placeholders of the Bundle assembly stay plain data.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Observation } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

const FHIR = 'application/fhir+json';

describe('reads answered with the stored text', () => {
  let ctx: TestContext;
  let created: Observation;
  let patientId: string;
  const api = () => request(ctx.app);

  before(async () => {
    ctx = await createTestContext();
    patientId = (await api().post('/fhir/Patient').set('Content-Type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Tekst' }] })).body.id as string;
    const obs: Observation = {
      resourceType: 'Observation',
      meta: { tag: [{ system: 'urn:example', code: 't' }], profile: ['http://example.org/p'] },
      status: 'final',
      code: { text: 'Notat "med" sitat \\ og æøå, og en falsk plassholder: "0123456789abcdef01234567:0"' },
      subject: { reference: `Patient/${patientId}` },
      valueString: '{"resourceType":"Patient"}',
    };
    created = (await api().post('/fhir/Observation').set('Content-Type', FHIR).send(obs)).body as Observation;
    await api().put(`/fhir/Observation/${created.id}`).set('Content-Type', FHIR).send({ ...created, status: 'amended' }).expect(200);
  });
  after(async () => {
    await ctx.close();
  });

  it('a read gives the same resource as the object path, resourceType first, meta from the row and the stored meta kept', async () => {
    const plain = await api().get(`/fhir/Observation/${created.id}`).expect(200);
    const pretty = await api().get(`/fhir/Observation/${created.id}?_pretty=true`).expect(200);
    expect(plain.text.startsWith('{"resourceType":"Observation"')).to.equal(true);
    // The database's own text form ("key": value): the resource was not re-stringified on the way out.
    expect(plain.text).to.include('"status": "amended"');
    expect(JSON.parse(plain.text)).to.deep.equal(JSON.parse(pretty.text));
    const body = JSON.parse(plain.text) as Observation;
    expect(body.meta).to.deep.include({ versionId: '2', tag: [{ system: 'urn:example', code: 't' }], profile: ['http://example.org/p'] });
    expect(body.code.text).to.equal('Notat "med" sitat \\ og æøå, og en falsk plassholder: "0123456789abcdef01234567:0"');
    expect(body.valueString).to.equal('{"resourceType":"Patient"}');
    expect(plain.headers.etag).to.equal('W/"2"');
    expect(plain.headers['last-modified']).to.equal(new Date(body.meta!.lastUpdated!).toUTCString());
    expect(plain.headers['content-type']).to.match(/^application\/fhir\+json/);
  });

  it('conditional reads still answer 304 on the current ETag and on Last-Modified, 200 on an old one', async () => {
    const first = await api().get(`/fhir/Observation/${created.id}`).expect(200);
    await api().get(`/fhir/Observation/${created.id}`).set('If-None-Match', 'W/"2"').expect(304);
    await api().get(`/fhir/Observation/${created.id}`).set('If-None-Match', 'W/"1"').expect(200);
    await api().get(`/fhir/Observation/${created.id}`).set('If-Modified-Since', first.headers['last-modified']!).expect(304);
  });

  it('vread gives each version as stored, with its own versionId; a deleted version is 410, an unknown one 404', async () => {
    const v1 = JSON.parse((await api().get(`/fhir/Observation/${created.id}/_history/1`).expect(200)).text) as Observation;
    expect(v1.status).to.equal('final');
    expect(v1.meta?.versionId).to.equal('1');
    await api().get(`/fhir/Observation/${created.id}/_history/9`).expect(404);
    const other = (await api().post('/fhir/Observation').set('Content-Type', FHIR).send({ resourceType: 'Observation', status: 'final', code: { text: 'x' } })).body as Observation;
    await api().delete(`/fhir/Observation/${other.id}`).expect(200);
    await api().get(`/fhir/Observation/${other.id}/_history/2`).expect(410);
    await api().get(`/fhir/Observation/${other.id}`).expect(410);
    await api().get('/fhir/Observation/no-such-id').expect(404);
  });

  it('a search Bundle assembled from stored text equals the object path’s, entry by entry', async () => {
    const q = `/fhir/Observation?subject=Patient/${patientId}`;
    const plain = await api().get(q).expect(200);
    const pretty = await api().get(`${q}&_pretty=true`).expect(200);
    const a = JSON.parse(plain.text) as Bundle;
    const b = JSON.parse(pretty.text) as Bundle;
    expect(a.entry).to.have.length(1);
    expect(plain.text).to.include('"status": "amended"');
    expect(a).to.deep.equal(b);
    expect((a.entry![0]!.resource as Observation).code.text).to.include('falsk plassholder');
  });

  it('_elements and _summary still shape the entries (they take the object path)', async () => {
    const res = await api().get(`/fhir/Observation?subject=Patient/${patientId}&_elements=status`).expect(200);
    const r = (res.body as Bundle).entry![0]!.resource as Observation;
    expect(r.status).to.equal('amended');
    expect(r).to.not.have.property('valueString');
    const count = await api().get(`/fhir/Observation?subject=Patient/${patientId}&_summary=count`).expect(200);
    expect((count.body as Bundle).total).to.equal(1);
    expect(count.body).to.not.have.property('entry');
  });
});
