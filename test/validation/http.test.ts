/**
 * The validator's rules over HTTP: a create with an invalid resource is a 422 OperationOutcome
 * naming the element, `$validate` answers 200 with the same issues, and `$validate` takes an empty
 * Parameters (issue 16 §5).
 */
import { expect } from 'chai';
import request from 'supertest';
import type { OperationOutcome } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

const FHIR = 'application/fhir+json';

describe('validation over HTTP (create, batch entries and $validate)', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });
  const api = () => request(ctx.app);
  const questionnaire = {
    resourceType: 'Questionnaire',
    status: 'active',
    item: [{ linkId: 'g', type: 'group' }],
  };

  it('a create breaking a core invariant is a 422 OperationOutcome with the expression, and nothing is stored', async () => {
    const res = await api().post('/fhir/Questionnaire').set('Content-Type', FHIR).send(questionnaire);
    expect(res.status).to.equal(422);
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).to.equal('OperationOutcome');
    const issue = outcome.issue.find((i) => i.diagnostics?.includes('(que-1)'));
    expect(issue).to.deep.include({ severity: 'error', code: 'invariant', expression: ['Questionnaire.item[0]'] });
    const search = await api().get('/fhir/Questionnaire');
    expect(search.body.total ?? search.body.entry?.length ?? 0).to.equal(0);
  });

  it('a create with an empty array is a 422 naming it', async () => {
    const res = await api().post('/fhir/Patient').set('Content-Type', FHIR).send({ resourceType: 'Patient', name: [] });
    expect(res.status).to.equal(422);
    expect(res.body.issue[0]).to.deep.include({ code: 'structure', expression: ['Patient.name'] });
  });

  it('a transaction entry with a bad attachment size is refused, saying why', async () => {
    const doc = { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: 'SGVp', size: 9 } }] };
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:4e8ed886-fd5f-40bb-8feb-f339b04d853a', resource: doc, request: { method: 'POST', url: 'DocumentReference' } }] };
    const res = await api().post('/fhir').set('Content-Type', FHIR).send(bundle);
    expect(res.status).to.be.oneOf([400, 422]);
    expect(JSON.stringify(res.body)).to.contain('size is 9 but data holds 3 bytes');
  });

  it('$validate answers 200 with the issues of an invalid resource, and "successful" for a valid one', async () => {
    const bad = await api().post('/fhir/Questionnaire/$validate').set('Content-Type', FHIR).send(questionnaire);
    expect(bad.status).to.equal(200);
    expect(bad.body.issue.map((i: { diagnostics: string }) => i.diagnostics).join()).to.contain('(que-1)');
    const good = await api().post('/fhir/Questionnaire/$validate').set('Content-Type', FHIR).send({ ...questionnaire, item: [{ linkId: 'q', type: 'string' }] });
    expect(good.status).to.equal(200);
    expect(good.body.issue).to.deep.equal([{ severity: 'information', code: 'informational', diagnostics: 'Validation successful: no errors found' }]);
  });

  it('$validate on Parameters takes an empty Parameters as the resource to validate (valid)', async () => {
    const res = await api().post('/fhir/Parameters/$validate').set('Content-Type', FHIR).send({ resourceType: 'Parameters' });
    expect(res.status).to.equal(200);
    expect(res.body.issue.at(-1).diagnostics).to.equal('Validation successful: no errors found');
  });

  it('$validate on another type with an empty Parameters is a 400 saying there is nothing to validate', async () => {
    const res = await api().post('/fhir/Patient/$validate').set('Content-Type', FHIR).send({ resourceType: 'Parameters' });
    expect(res.status).to.equal(400);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.body.issue[0]).to.deep.include({ code: 'required', expression: ['Parameters.parameter'] });
    expect(res.body.issue[0].diagnostics).to.match(/^Nothing to validate/);
  });

  it('$validate with a Parameters "resource" validates that resource (Bundle rules included)', async () => {
    const bundle = { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: 'https://x/1' }, { relation: 'self', url: 'https://x/2' }] };
    const res = await api().post('/fhir/Bundle/$validate').set('Content-Type', FHIR).send({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: bundle }] });
    expect(res.status).to.equal(200);
    expect(res.body.issue[0]).to.deep.include({ severity: 'error', expression: ['Bundle.link[1].relation'] });
  });
});
