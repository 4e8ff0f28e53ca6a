/**
 * Transactions of many conditional creates and of PUTs, over HTTP (issue 11 §4, bulk write path):
 * conditions are looked up together and the matched resources read together, so these check that
 * each entry still gets exactly its own answer — 0 matches → 201, 1 → 200 with that resource,
 * more than one → 412 and nothing of the transaction stored — and that PUT entries write the right
 * versions and history.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle as R4Bundle, BundleEntry, FhirResource, Observation } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

type Bundle = R4Bundle<FhirResource>;
const FHIR = 'application/fhir+json';
const SYSTEM = 'urn:test:bulk';

describe('transactions of many conditional creates and PUTs', function () {
  this.timeout(300_000);
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const post = (bundle: Bundle) => request(ctx.app).post('/fhir').set('Content-Type', FHIR).send(bundle);
  const observation = (value: string, text = 'puls'): Observation => ({ resourceType: 'Observation', status: 'final', code: { text }, identifier: [{ system: SYSTEM, value }] });
  const conditional = (value: string, text?: string): BundleEntry<FhirResource> => ({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: observation(value, text),
    request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${SYSTEM}|${value}` },
  });
  const transaction = (entry: Array<BundleEntry<FhirResource>>): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });
  const countWith = async (value: string): Promise<number> => {
    const res = await request(ctx.app).get(`/fhir/Observation?identifier=${encodeURIComponent(`${SYSTEM}|${value}`)}&_summary=count`).expect(200);
    return (res.body as Bundle).total!;
  };

  it('200 conditional creates sent again in another order each answer 200 with the resource their own condition matched', async () => {
    const values = Array.from({ length: 200 }, () => randomUUID());
    const first = (await post(transaction(values.map((v) => conditional(v)))).expect(200)).body as Bundle;
    expect(first.entry!.every((e) => e.response!.status === '201 Created')).to.equal(true);
    const idOf = new Map(values.map((v, i) => [v, first.entry![i]!.resource!.id!]));

    const reversed = [...values].reverse();
    const again = (await post(transaction(reversed.map((v) => conditional(v, 'endret')))).expect(200)).body as Bundle;
    again.entry!.forEach((e, i) => {
      const value = reversed[i]!;
      expect(e.response!.status).to.equal('200 OK');
      expect(e.resource!.id).to.equal(idOf.get(value));
      expect((e.resource as Observation).identifier![0]!.value).to.equal(value);
      // The stored resource, not the one sent: a matched conditional create writes nothing.
      expect((e.resource as Observation).code.text).to.equal('puls');
      expect(e.response!.location).to.equal(`Observation/${idOf.get(value)}/_history/1`);
    });
    for (const v of values.slice(0, 5)) expect(await countWith(v)).to.equal(1);
  });

  it('four concurrent transactions of overlapping conditional creates store one resource per identifier (PostgreSQL: four connections)', async () => {
    const values = Array.from({ length: 200 }, () => randomUUID());
    // Transaction k holds identifiers [40k, 40k + 80), half of them shared with the next one, in opposite orders.
    const bundles = [0, 1, 2, 3].map((k) => {
      const part = values.slice(40 * k, 40 * k + 80);
      return transaction((k % 2 === 0 ? part : [...part].reverse()).map((v) => conditional(v)));
    });
    const results = await Promise.all(bundles.map((b) => post(b)));
    expect(results.map((r) => r.status), JSON.stringify(results.find((r) => r.status !== 200)?.body)).to.deep.equal([200, 200, 200, 200]);
    const idOf = new Map<string, Set<string>>();
    let created = 0;
    for (const r of results) {
      for (const e of (r.body as Bundle).entry!) {
        const value = (e.resource as Observation).identifier![0]!.value!;
        idOf.set(value, (idOf.get(value) ?? new Set()).add(e.resource!.id!));
        if (e.response!.status === '201 Created') created++;
      }
    }
    expect(created).to.equal(200);
    expect([...idOf.values()].every((ids) => ids.size === 1)).to.equal(true);
    for (const v of [values[0]!, values[50]!, values[199]!]) expect(await countWith(v)).to.equal(1);
  });

  it('one transaction mixing conditions that match nothing and one resource answers 201 and 200', async () => {
    const [fresh, existing] = [randomUUID(), randomUUID()];
    const stored = (await request(ctx.app).post('/fhir/Observation').set('Content-Type', FHIR).send(observation(existing)).expect(201)).body as Observation;
    const out = (await post(transaction([conditional(fresh), conditional(existing)])).expect(200)).body as Bundle;
    expect(out.entry!.map((e) => e.response!.status)).to.deep.equal(['201 Created', '200 OK']);
    expect(out.entry![1]!.resource!.id).to.equal(stored.id);
    expect(await countWith(fresh)).to.equal(1);
    expect(await countWith(existing)).to.equal(1);
  });

  it('a condition matching two resources fails the whole transaction with 412 naming its entry; nothing is stored', async () => {
    const [fresh, once, twice] = [randomUUID(), randomUUID(), randomUUID()];
    for (const v of [once, twice, twice]) await request(ctx.app).post('/fhir/Observation').set('Content-Type', FHIR).send(observation(v)).expect(201);
    const res = await post(transaction([conditional(fresh), conditional(once), conditional(twice)]));
    expect(res.status).to.equal(412);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.body.issue[0].expression[0]).to.equal('Bundle.entry[2]');
    expect(res.body.issue[0].diagnostics).to.match(/matched 2 Observation resources/);
    expect(await countWith(fresh)).to.equal(0);
    expect(await countWith(once)).to.equal(1);
    expect(await countWith(twice)).to.equal(2);
  });

  it('PUT entries write version after version, each in the history with its own content', async () => {
    const [a, b] = [`put-${randomUUID().slice(0, 8)}`, `put-${randomUUID().slice(0, 8)}`];
    const put = (id: string, text: string): BundleEntry<FhirResource> => ({ resource: { ...observation(id, text), id }, request: { method: 'PUT', url: `Observation/${id}` } });
    const one = (await post(transaction([put(a, 'v1'), put(b, 'v1')])).expect(200)).body as Bundle;
    expect(one.entry!.map((e) => e.response!.status)).to.deep.equal(['201 Created', '201 Created']);
    expect(one.entry!.map((e) => e.response!.etag)).to.deep.equal(['W/"1"', 'W/"1"']);
    const two = (await post(transaction([put(a, 'v2'), put(b, 'v2')])).expect(200)).body as Bundle;
    expect(two.entry!.map((e) => [e.response!.status, e.response!.location])).to.deep.equal([
      ['200 OK', `Observation/${a}/_history/2`],
      ['200 OK', `Observation/${b}/_history/2`],
    ]);
    const three = (await post(transaction([put(a, 'v3')])).expect(200)).body as Bundle;
    expect(three.entry![0]!.response!.etag).to.equal('W/"3"');

    const current = (await request(ctx.app).get(`/fhir/Observation/${a}`).expect(200)).body as Observation;
    expect([current.meta!.versionId, current.code.text]).to.deep.equal(['3', 'v3']);
    const history = (await request(ctx.app).get(`/fhir/Observation/${a}/_history`).expect(200)).body as Bundle;
    expect(history.entry!.map((e) => [(e.resource as Observation).meta!.versionId, (e.resource as Observation).code.text, e.request?.method])).to.deep.equal([
      ['3', 'v3', 'PUT'],
      ['2', 'v2', 'PUT'],
      ['1', 'v1', 'PUT'],
    ]);
    const v2 = (await request(ctx.app).get(`/fhir/Observation/${b}/_history/2`).expect(200)).body as Observation;
    expect(v2.code.text).to.equal('v2');
  });

  it('a failing PUT rolls back the conditional creates and PUTs before it', async () => {
    const [value, id] = [randomUUID(), `put-${randomUUID().slice(0, 8)}`];
    const res = await post(transaction([
      conditional(value),
      { resource: { ...observation(id, 'ny'), id }, request: { method: 'PUT', url: `Observation/${id}` } },
      { resource: { resourceType: 'Observation', id: 'bad-1', status: 'not-a-status', code: { text: 'x' } } as never, request: { method: 'PUT', url: 'Observation/bad-1' } },
    ]));
    expect(res.status).to.equal(422);
    expect(res.body.issue[0].expression[0]).to.equal('Bundle.entry[2]');
    expect(await countWith(value)).to.equal(0);
    await request(ctx.app).get(`/fhir/Observation/${id}`).expect(404);
  });
});
