import { expect } from 'chai';
import request from 'supertest';
import type { Bundle as R4Bundle, FhirResource, Observation } from 'fhir/r4';

type Bundle = R4Bundle<FhirResource>;
import { createTestContext, type TestContext } from '../support/app.js';

const FHIR = 'application/fhir+json';

describe('batch and transaction Bundles', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });
  const post = (bundle: Bundle) => request(ctx.app).post('/fhir').set('Content-Type', FHIR).send(bundle);

  it('a transaction resolves urn:uuid references across entries, whatever their order', async () => {
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:obs-1', resource: { resourceType: 'Observation', status: 'final', code: { text: 'puls' }, subject: { reference: 'urn:uuid:pat-1' } }, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:pat-1', resource: { resourceType: 'Patient', name: [{ family: 'Fjell' }] }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).to.equal(200);
    const out = res.body as Bundle;
    expect(out.type).to.equal('transaction-response');
    expect(out.entry!.map((e) => e.response!.status)).to.deep.equal(['201 Created', '201 Created']);
    const obs = out.entry![0]!.resource as Observation;
    const patientId = out.entry![1]!.resource!.id;
    expect(obs.subject!.reference).to.equal(`Patient/${patientId}`);
    expect(out.entry![0]!.response!.location).to.match(/^Observation\/[^/]+\/_history\/1$/);
    expect(out.entry![0]!.response!.etag).to.equal('W/"1"');
  });

  it('a transaction is all-or-nothing and the error names the failing entry', async () => {
    const before = await request(ctx.app).get('/fhir/Patient?family=Rollback');
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Rollback' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', birthDate: 'not-a-date' } as never, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).to.equal(422);
    expect(res.body.issue[0].expression[0]).to.equal('Bundle.entry[1]');
    const after = await request(ctx.app).get('/fhir/Patient?family=Rollback');
    expect(after.body.total ?? after.body.entry?.length ?? 0).to.equal(before.body.total ?? before.body.entry?.length ?? 0);
  });

  it('conditional references (Patient?identifier=…) resolve to the one matching resource', async () => {
    await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'M-77' }] }, request: { method: 'PUT', url: 'Patient/m77' } }],
    });
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'vekt' }, subject: { reference: 'Patient?identifier=urn:test:mrn|M-77' } }, request: { method: 'POST', url: 'Observation' } }],
    });
    expect(res.status).to.equal(200);
    expect(res.body.entry[0].resource.subject.reference).to.equal('Patient/m77');
  });

  it('ifNoneExist inside a transaction reuses the existing resource (200, not a duplicate)', async () => {
    const entry = { resource: { resourceType: 'Patient' as const, identifier: [{ system: 'urn:test:mrn', value: 'INE-1' }] }, request: { method: 'POST' as const, url: 'Patient', ifNoneExist: 'identifier=urn:test:mrn|INE-1' } };
    const first = await post({ resourceType: 'Bundle', type: 'transaction', entry: [entry] });
    const second = await post({ resourceType: 'Bundle', type: 'transaction', entry: [entry] });
    expect(first.body.entry[0].response.status).to.equal('201 Created');
    expect(second.body.entry[0].response.status).to.equal('200 OK');
    expect(second.body.entry[0].resource.id).to.equal(first.body.entry[0].resource.id);
  });

  it('a batch answers every entry independently', async () => {
    const res = await post({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Ok' }] }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/nope' } },
        { resource: { resourceType: 'Patient', birthDate: 'bad' } as never, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).to.equal(200);
    expect(res.body.type).to.equal('batch-response');
    expect(res.body.entry.map((e: { response: { status: string } }) => e.response.status)).to.deep.equal(['201 Created', '404', '422']);
    expect(res.body.entry[1].response.outcome.resourceType).to.equal('OperationOutcome');
  });

  it('a transaction with DELETE, PUT and GET processes deletes first and reads last', async () => {
    await post({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', id: 'ord-1' }, request: { method: 'PUT', url: 'Patient/ord-1' } }] });
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: 'Patient/ord-2' } },
        { resource: { resourceType: 'Patient', id: 'ord-2', gender: 'other' }, request: { method: 'PUT', url: 'Patient/ord-2' } },
        { request: { method: 'DELETE', url: 'Patient/ord-1' } },
      ],
    });
    expect(res.status).to.equal(200);
    expect(res.body.entry[0].resource.gender).to.equal('other');
    expect(res.body.entry[2].response.status).to.equal('204 No Content');
  });

  it('a Bundle of another type at the base is 400', async () => {
    const res = await post({ resourceType: 'Bundle', type: 'collection' });
    expect(res.status).to.equal(400);
    expect(res.body.issue[0].expression).to.deep.equal(['Bundle.type']);
  });
});
