/**
 * PUT entries of a transaction Bundle written in bulk (issue 11 §4; repository/prelock.ts): the rows
 * are locked together and the new versions stored by one statement, so a Bundle of many PUTs costs a
 * handful of statements, not three per entry — and each entry still gets exactly its own version,
 * history and search index, a DELETE before a PUT of the same resource is seen by the PUT, and two
 * transactions writing overlapping resources in opposite orders both complete.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Bundle as R4Bundle, BundleEntry, FhirResource, Observation } from 'fhir/r4';
import request from 'supertest';
import { countStatements } from '../support/count-statements.js';
import { createTestContext, type TestContext } from '../support/app.js';

type Bundle = R4Bundle<FhirResource>;
const FHIR = 'application/fhir+json';
const SYSTEM = 'urn:test:put-bulk';

describe('transactions of many PUT entries, written in bulk', function () {
  this.timeout(300_000);
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const post = (bundle: Bundle) => request(ctx.app).post('/fhir').set('Content-Type', FHIR).send(bundle);
  const transaction = (entry: Array<BundleEntry<FhirResource>>): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry });
  const observation = (code: string, id?: string): Observation => ({ resourceType: 'Observation', ...(id ? { id } : {}), status: 'final', code: { coding: [{ system: SYSTEM, code }] } });
  const put = (o: Observation): BundleEntry<FhirResource> => ({ resource: o, request: { method: 'PUT', url: `Observation/${o.id}` } });
  const createMany = async (n: number, code: string): Promise<string[]> => {
    const res = await post(transaction(Array.from({ length: n }, () => ({ resource: observation(code), request: { method: 'POST', url: 'Observation' } })))).expect(200);
    return (res.body as Bundle).entry!.map((e) => e.resource!.id!);
  };
  const countCode = async (code: string): Promise<number> => ((await request(ctx.app).get(`/fhir/Observation?code=${encodeURIComponent(`${SYSTEM}|${code}`)}&_summary=count`).expect(200)).body as Bundle).total!;

  it('60 PUTs (50 updates, 10 new ids) cost the same few statements as one, and each is stored as its own new version', async () => {
    const before = `before-${randomUUID()}`;
    const after = `after-${randomUUID()}`;
    const ids = await createMany(50, before);
    const fresh = Array.from({ length: 10 }, () => randomUUID());
    const counter = countStatements(ctx.db);
    let res;
    try {
      res = await post(transaction([...ids, ...fresh].map((id) => put(observation(after, id)))));
    } finally {
      counter.stop();
    }
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).to.equal(200);
    const sql = counter.take().filter((s) => !/\boutbox\b/.test(s));
    // The token check, BEGIN, the lock, its visibility check, sequence numbers, the writes, COMMIT and the access log — plus
    // one insert per update-as-create (a client-chosen id is inserted at once: a concurrent create → 409).
    expect(sql.filter((s) => /FOR UPDATE/.test(s)), sql.join('\n')).to.have.length(1);
    expect(sql.length, sql.join('\n')).to.be.at.most(9 + fresh.length);
    const entries = (res.body as Bundle).entry!;
    entries.slice(0, 50).forEach((e, i) => {
      expect(e.response!.status).to.equal('200 OK');
      expect(e.response!.location).to.equal(`Observation/${ids[i]}/_history/2`);
    });
    entries.slice(50).forEach((e, i) => expect(e.response!.location).to.equal(`Observation/${fresh[i]}/_history/1`));
    expect(await countCode(after)).to.equal(60);
    expect(await countCode(before)).to.equal(0);
    const history = (await request(ctx.app).get(`/fhir/Observation/${ids[7]}/_history`).expect(200)).body as Bundle;
    expect(history.entry!.map((e) => (e.resource as Observation).code.coding![0]!.code)).to.deep.equal([after, before]);
    const v1 = (await request(ctx.app).get(`/fhir/Observation/${ids[7]}/_history/1`).expect(200)).body as Observation;
    expect(v1.code.coding![0]!.code).to.equal(before);
  });

  it('a DELETE and a PUT of the same resource in one transaction: the PUT sees the deletion and brings it back (201, version 3)', async () => {
    const code = `revived-${randomUUID()}`;
    const [id] = await createMany(1, 'x');
    const res = await post(transaction([put(observation(code, id)), { request: { method: 'DELETE', url: `Observation/${id}` } }])).expect(200);
    const entries = (res.body as Bundle).entry!;
    expect(entries[0]!.response!.status).to.equal('201 Created');
    expect(entries[0]!.response!.location).to.equal(`Observation/${id}/_history/3`);
    const read = (await request(ctx.app).get(`/fhir/Observation/${id}`).expect(200)).body as Observation;
    expect(read.code.coding![0]!.code).to.equal(code);
  });

  it('two PUTs of one resource in one transaction make two versions, the second over the first', async () => {
    const [id] = await createMany(1, 'x');
    const res = await post(transaction([put(observation('one', id)), put(observation('two', id))])).expect(200);
    expect((res.body as Bundle).entry!.map((e) => e.response!.location)).to.deep.equal([`Observation/${id}/_history/2`, `Observation/${id}/_history/3`]);
    const read = (await request(ctx.app).get(`/fhir/Observation/${id}`).expect(200)).body as Observation;
    expect(read.code.coding![0]!.code).to.equal('two');
  });

  it('a failing entry after many PUTs stores none of them', async () => {
    const code = `kept-${randomUUID()}`;
    const ids = await createMany(20, code);
    const res = await post(transaction([...ids.map((id) => put(observation('lost', id))), { resource: { resourceType: 'Observation', status: 'nonsense' } as unknown as Observation, request: { method: 'POST', url: 'Observation' } }]));
    expect(res.status).to.equal(422);
    expect(await countCode(code)).to.equal(20);
  });

  it('two transactions PUTting overlapping resources in opposite orders both complete, one after the other (PostgreSQL: two connections)', async () => {
    const ids = await createMany(30, 'x');
    const [a, b] = await Promise.all([
      post(transaction(ids.map((id) => put(observation('a', id))))),
      post(transaction([...ids].reverse().map((id) => put(observation('b', id))))),
    ]);
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    const versions = await Promise.all(ids.slice(0, 3).map(async (id) => ((await request(ctx.app).get(`/fhir/Observation/${id}`).expect(200)).body as Observation).meta!.versionId));
    expect(versions).to.deep.equal(['3', '3', '3']);
  });
});
