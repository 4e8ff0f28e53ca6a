import { expect } from 'chai';
import type { Observation, Provenance } from 'fhir/r4';
import request from 'supertest';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { SID } from '../../src/bridges/identity.js';
import type { BridgeResponse } from '../../src/bridges/router.js';
import { findMatchingIds } from '../../src/fhir/search/find-ids.js';
import { BRIDGE_SCOPE, countFor, createPatient, startBridgeServer, tokenFor, VITALS_SCOPE, type BridgeServer } from './http-support.js';
import { fixture } from './support.js';

const HC = '/bridges/health-connect';
type Records = { records: Array<Record<string, unknown>> };

describe('Health Connect bridge over HTTP with real tokens', function () {
  this.timeout(120_000);
  let server: BridgeServer;
  let kari: string;
  let token: string;

  before(async () => {
    server = await startBridgeServer();
    kari = await createPatient(server, 'Connectsen');
    token = await tokenFor(server, kari, BRIDGE_SCOPE);
  });
  after(() => server.close());

  const push = (body: unknown, bearer = token) => request(server.app).post(HC).set('authorization', `Bearer ${bearer}`).send(body as object);
  const byIdentifier = async (system: string, value: string) => {
    const ids = await findMatchingIds(server.db, 'Observation', `identifier=${system}|${value}`, SYSTEM_ACCESS, 2);
    expect(ids, `${system}|${value}`).to.have.length(1);
    return server.repo.read<Observation>('Observation', ids[0]!, SYSTEM_ACCESS);
  };

  it('a batch with every listed record type, duplicates and implausible values: 200 with one outcome per sample', async () => {
    const res = await push(fixture('health-connect-all-types.json')).expect(200);
    const body = res.body as BridgeResponse;
    expect(body.platform).to.equal('health-connect');
    expect(body.summary).to.deep.equal({ received: 28, created: 20, updated: 0, alreadyPresent: 1, rejected: 7, records: 22 });
    expect(body.outcomes.filter((o) => o.record === 0).map((o) => [o.part, o.status])).to.deep.equal([[0, 'created'], [1, 'created'], [2, 'created']]);
    expect(body.outcomes.find((o) => o.record === 18)).to.deep.include({ status: 'already-present', reason: 'same sample as sample 4 of this push' });
    expect(body.outcomes.find((o) => o.record === 15)!.reason).to.match(/basal metabolic rate has no documented LOINC code/);
    expect(body.outcomes.find((o) => o.record === 17 && o.status === 'rejected')).to.deep.include({ part: 0, reason: 'heart rate 320 /min is implausible (rule: > 0 and ≤ 300 /min)' });
  });

  it('stores LOINC/UCUM Observations for the token’s patient with a Device and a Provenance naming the app', async () => {
    const hr = await byIdentifier(SID.healthConnectRecord, `hc-hr-0001/t${Date.parse('2024-05-01T06:31:00Z')}`);
    expect(hr.subject?.reference).to.equal(`Patient/${kari}`);
    expect(hr.valueQuantity).to.deep.include({ value: 66, code: '/min', system: 'http://unitsofmeasure.org' });
    expect(hr.effectiveDateTime).to.equal('2024-05-01T08:31:00+02:00');
    const device = await server.repo.read('Device', hr.device!.reference!.split('/')[1]!, SYSTEM_ACCESS);
    expect(device).to.deep.include({ manufacturer: 'Google', modelNumber: 'Pixel Watch 2', type: { text: 'Android Health Connect source' } });
    const ids = await findMatchingIds(server.db, 'Provenance', `agent=Patient/${kari}`, SYSTEM_ACCESS, 50);
    const provenances = await Promise.all(ids.map((id) => server.repo.read<Provenance>('Provenance', id, SYSTEM_ACCESS)));
    // One Device per app and physical device: the Fitbit app with the Pixel Watch (4 heart rates), and without one (2).
    const fitbit = provenances.filter((p) => p.agent[0]!.who.display === 'com.fitbit.FitbitMobile');
    expect(fitbit.map((p) => p.entity?.[0]?.what.display)).to.deep.equal(Array(2).fill('Android Health Connect push from com.fitbit.FitbitMobile'));
    expect(fitbit.map((p) => p.target.length).sort()).to.deep.equal([2, 4]);
  });

  it('re-pushing the batch is idempotent on metadata.id: nothing new is stored', async () => {
    const before = await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, kari)));
    const res = await push(fixture('health-connect-all-types.json')).expect(200);
    expect((res.body as BridgeResponse).summary).to.deep.include({ created: 0, alreadyPresent: 21, rejected: 7 });
    const after = await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, kari)));
    expect(after).to.deep.equal(before);
  });

  it('a higher clientRecordVersion replaces the stored Observation; the same or a lower one is already present', async () => {
    const weight = fixture<Records>('health-connect-all-types.json').records[2]!;
    const withVersion = (version: number, kg: number) => ({ ...weight, weight: { inKilograms: kg }, metadata: { ...(weight.metadata as object), clientRecordVersion: version } });
    const before = await countFor(server, 'Observation', kari);
    const v2 = (await push({ records: [withVersion(2, 71.4)] }).expect(200)).body as BridgeResponse;
    expect(v2.outcomes[0]).to.deep.include({ status: 'updated' });
    const stored = await byIdentifier(SID.healthConnectRecord, 'hc-weight-0001');
    expect(stored.valueQuantity?.value).to.equal(71.4);
    expect(stored.meta?.versionId).to.equal('2');
    expect(`Observation/${stored.id}`).to.equal(v2.outcomes[0]!.observation);
    const same = (await push({ records: [withVersion(2, 71.4)] }).expect(200)).body as BridgeResponse;
    expect(same.outcomes[0]).to.deep.include({ status: 'already-present', reason: 'clientRecordVersion 2 is not newer than the stored version 2' });
    const older = (await push({ records: [withVersion(1, 60)] }).expect(200)).body as BridgeResponse;
    expect(older.outcomes[0]).to.deep.include({ status: 'already-present', reason: 'clientRecordVersion 1 is not newer than the stored version 2' });
    expect((await byIdentifier(SID.healthConnectRecord, 'hc-weight-0001')).valueQuantity?.value).to.equal(71.4);
    expect(await countFor(server, 'Observation', kari)).to.equal(before);
    // Two versions of one record in one push: the newer one wins.
    const both = (await push({ records: [withVersion(4, 72.5), withVersion(3, 72)] }).expect(200)).body as BridgeResponse;
    expect(both.outcomes.map((o) => o.status)).to.deep.equal(['updated', 'already-present']);
    expect((await byIdentifier(SID.healthConnectRecord, 'hc-weight-0001')).valueQuantity?.value).to.equal(72.5);
  });

  it('another patient’s record with the same ids is their own: created, nothing of Kari’s matched or changed', async () => {
    const per = await createPatient(server, 'Andersen');
    const weight = fixture<Records>('health-connect-all-types.json').records[2]!;
    const res = await push({ records: [{ ...weight, metadata: { ...(weight.metadata as object), clientRecordVersion: 9 } }] }, await tokenFor(server, per, BRIDGE_SCOPE)).expect(200);
    expect((res.body as BridgeResponse).outcomes[0]!.status).to.equal('created');
    expect((await byIdentifier(SID.healthConnectRecord, 'hc-weight-0001').catch(() => null))).to.equal(null); // two now: one each
    const ids = await findMatchingIds(server.db, 'Observation', `identifier=${SID.healthConnectRecord}|hc-weight-0001&subject=Patient/${kari}`, SYSTEM_ACCESS, 2);
    expect((await server.repo.read<Observation>('Observation', ids[0]!, SYSTEM_ACCESS)).valueQuantity?.value).to.equal(72.5);
  });

  it('a vital-signs-only grant rejects steps, distance, energy, VO2 max and sleep as outside the grant', async () => {
    const ola = await createPatient(server, 'Vitalsen');
    const res = await push(fixture('health-connect-all-types.json'), await tokenFor(server, ola, `launch/patient ${VITALS_SCOPE}`)).expect(200);
    const body = res.body as BridgeResponse;
    const outside = body.outcomes.filter((o) => o.reason?.startsWith('category "activity" is outside'));
    expect(outside.map((o) => o.record)).to.deep.equal([1, 11, 12, 13, 14, 14, 14]);
  });

  it('request errors are OperationOutcomes: 401 without a token, 400 without records, 413 above the record cap', async () => {
    const res = await request(server.app).post(HC).send({ records: [] }).expect(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer/);
    const bad = await push({ record: [] }).expect(400);
    expect(bad.body.issue[0].expression).to.deep.equal(['records']);
    const one = fixture<Records>('health-connect-all-types.json').records[1];
    const tooMany = await push({ records: Array(5_001).fill(one) }).expect(413);
    expect(tooMany.body.issue[0].diagnostics).to.equal('At most 5000 records per push; got 5001');
    const empty = (await push({ records: [] }).expect(200)).body as BridgeResponse;
    expect(empty.summary).to.deep.equal({ received: 0, created: 0, updated: 0, alreadyPresent: 0, rejected: 0, records: 0 });
  });
});
