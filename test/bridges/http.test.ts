import { expect } from 'chai';
import type { Observation, Provenance } from 'fhir/r4';
import request from 'supertest';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import type { BridgeResponse } from '../../src/bridges/router.js';
import { SID } from '../../src/bridges/identity.js';
import { findMatchingIds } from '../../src/fhir/search/find-ids.js';
import { ACTIVITY_SCOPE, BRIDGE_SCOPE, countFor, createPatient, startBridgeServer, tokenFor, VITALS_SCOPE, type BridgeServer } from './http-support.js';
import { fixture } from './support.js';

const HK = '/bridges/healthkit';
const GF = '/bridges/google-fit';

describe('bridges over HTTP with real tokens', function () {
  this.timeout(120_000);
  let server: BridgeServer;
  let kari: string;
  let token: string;

  before(async () => {
    server = await startBridgeServer();
    kari = await createPatient(server, 'Nordmann');
    token = await tokenFor(server, kari, BRIDGE_SCOPE);
  });
  after(() => server.close());

  const push = (path: string, body: unknown, bearer = token) => request(server.app).post(path).set('authorization', `Bearer ${bearer}`).send(body as object);

  it('a HealthKit push of every mapped type answers 200 with one created outcome per sample', async () => {
    const res = await push(HK, fixture('healthkit-all-types.json')).expect(200);
    const body = res.body as BridgeResponse;
    expect(body.platform).to.equal('healthkit');
    expect(body.summary).to.deep.equal({ received: 16, created: 16, updated: 0, alreadyPresent: 0, rejected: 0 });
    expect(body.outcomes[0]).to.deep.include({ index: 0, id: '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001', status: 'created' });
    expect(body.outcomes.every((o) => /^Observation\/[A-Za-z0-9.-]+$/.test(o.observation ?? ''))).to.equal(true);
  });

  it('the stored Observation has the token’s patient as subject, the LOINC code, the identifier and a Device reference', async () => {
    const ids = await findMatchingIds(server.db, 'Observation', `identifier=${SID.healthKitUuid}|0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0003`, SYSTEM_ACCESS, 2);
    expect(ids).to.have.length(1);
    const o = await server.repo.read<Observation>('Observation', ids[0]!, SYSTEM_ACCESS);
    expect(o.subject?.reference).to.equal(`Patient/${kari}`);
    expect(o.code.coding?.[0]?.code).to.equal('29463-7');
    expect(o.valueQuantity?.value).to.equal(69.99);
    expect(o.device?.reference).to.match(/^Device\/[A-Za-z0-9.-]+$/);
    const device = await server.repo.read('Device', o.device!.reference!.split('/')[1]!, SYSTEM_ACCESS);
    expect(device).to.deep.include({ patient: { reference: `Patient/${kari}` } });
  });

  it('one Device per source and one Provenance per source name the app, with targets resolved to stored Observations', async () => {
    expect(await countFor(server, 'Device', kari)).to.equal(7);
    expect(await countFor(server, 'Provenance', kari)).to.equal(7);
    const ids = await findMatchingIds(server.db, 'Provenance', `agent=Patient/${kari}`, SYSTEM_ACCESS, 20);
    const provenances = await Promise.all(ids.map((id) => server.repo.read<Provenance>('Provenance', id, SYSTEM_ACCESS)));
    const withings = provenances.find((p) => p.agent[0]!.who.display === 'Withings')!;
    expect(withings.target.map((t) => t.reference!.split('/')[0])).to.deep.equal(['Observation', 'Observation', 'Observation']);
    expect(withings.agent[0]!.who.reference).to.match(/^Device\//);
  });

  it('re-pushing the same samples is idempotent: all already present, nothing new stored', async () => {
    const before = await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, kari)));
    const res = await push(HK, fixture('healthkit-all-types.json')).expect(200);
    expect((res.body as BridgeResponse).summary).to.deep.equal({ received: 16, created: 0, updated: 0, alreadyPresent: 16, rejected: 0 });
    const after = await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, kari)));
    expect(after).to.deep.equal(before);
  });

  it('a mixed push stores the valid samples and reports every bad one with its reason', async () => {
    const good = fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-all-types.json').samples;
    const bad = fixture<{ samples: unknown[] }>('healthkit-bad.json').samples;
    const fresh = { ...good[0], uuid: '2b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001', value: 81 };
    const res = await push(HK, { samples: [bad[0], fresh, bad[2], good[1], fresh] }).expect(200);
    const body = res.body as BridgeResponse;
    expect(body.outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'created', 'rejected', 'already-present', 'already-present']);
    expect(body.outcomes[0]!.reason).to.equal('unknown HealthKit type "HKQuantityTypeIdentifierDietaryCaffeine"');
    expect(body.outcomes[2]!.reason).to.match(/heart rate 320/);
    expect(body.outcomes[4]).to.deep.include({ reason: 'same sample as sample 1 of this push', observation: body.outcomes[1]!.observation });
  });

  it('a Google Fit dataset is stored, and pushing it again is idempotent', async () => {
    const first = await push(GF, fixture('google-fit-all-types.json')).expect(200);
    expect((first.body as BridgeResponse).summary).to.deep.equal({ received: 10, created: 10, updated: 0, alreadyPresent: 0, rejected: 0 });
    const again = await push(GF, fixture('google-fit-all-types.json')).expect(200);
    expect((again.body as BridgeResponse).summary).to.deep.include({ created: 0, alreadyPresent: 10 });
    const bad = await push(GF, fixture('google-fit-bad.json')).expect(200);
    expect((bad.body as BridgeResponse).summary).to.deep.include({ received: 9, rejected: 9 });
  });

  it('a vital-signs-only grant stores vital signs and rejects steps and sleep as outside the grant', async () => {
    const ola = await createPatient(server, 'Vitalsen');
    const vitalsOnly = await tokenFor(server, ola, `launch/patient ${VITALS_SCOPE}`);
    const res = await push(HK, fixture('healthkit-all-types.json'), vitalsOnly).expect(200);
    const body = res.body as BridgeResponse;
    const steps = body.outcomes[11]!;
    expect(steps.status).to.equal('rejected');
    expect(steps.reason).to.equal(`category "activity" is outside the token's grant (${VITALS_SCOPE})`);
    expect(body.outcomes[13]!.status).to.equal('rejected');
    expect(body.summary).to.deep.equal({ received: 16, created: 13, updated: 0, alreadyPresent: 0, rejected: 3 });
    const activityOnly = await tokenFor(server, ola, `launch/patient ${ACTIVITY_SCOPE}`);
    const res2 = await push(HK, fixture('healthkit-all-types.json'), activityOnly).expect(200);
    expect((res2.body as BridgeResponse).summary).to.deep.equal({ received: 16, created: 3, updated: 0, alreadyPresent: 0, rejected: 13 });
  });

  it('the same HealthKit UUID from another patient is that patient’s own sample: created, nothing of Kari’s is matched', async () => {
    const per = await createPatient(server, 'Annen');
    const res = await push(HK, fixture('healthkit-all-types.json'), await tokenFor(server, per, BRIDGE_SCOPE)).expect(200);
    expect((res.body as BridgeResponse).summary.created).to.equal(16);
    expect(await countFor(server, 'Observation', per)).to.equal(16);
  });

  it('concurrent pushes for one patient from one source create its Device once', async () => {
    const pat = await createPatient(server, 'Samtidig');
    const bearer = await tokenFor(server, pat, BRIDGE_SCOPE);
    const base = fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-all-types.json').samples[0]!;
    const batch = (k: number) => ({ samples: Array.from({ length: 20 }, (_, i) => ({ ...base, uuid: `5b1c7e52-5a0e-4d3b-9c51-${String(k * 100 + i).padStart(12, '0')}` })) });
    const results = await Promise.all([1, 2, 3, 4].map((k) => push(HK, batch(k), bearer)));
    expect(results.map((r) => (r.body as BridgeResponse).summary.created)).to.deep.equal([20, 20, 20, 20]);
    expect(await countFor(server, 'Device', pat)).to.equal(1);
  });

  it('the subject is always the token’s patient, whatever the body says', async () => {
    const other = await createPatient(server, 'Uvedkommende');
    const sample = { ...fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-all-types.json').samples[0], uuid: '3b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001', subject: { reference: `Patient/${other}` } };
    await push(HK, { samples: [sample], patient: `Patient/${other}` }).expect(200);
    expect(await countFor(server, 'Observation', other)).to.equal(0);
  });

  describe('authorisation', () => {
    it('no token → 401 with WWW-Authenticate, nothing parsed', async () => {
      const res = await request(server.app).post(HK).send({ samples: [] }).expect(401);
      expect(res.headers['www-authenticate']).to.match(/^Bearer/);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    });

    it('a forged token → 401', async () => {
      await push(HK, { samples: [] }, `${token.slice(0, -4)}AAAA`).expect(401);
    });

    it('a token without patient/Observation.c → 403 insufficient_scope', async () => {
      const reader = await tokenFor(server, kari, 'launch/patient patient/Observation.rs');
      const res = await push(HK, fixture('healthkit-all-types.json'), reader).expect(403);
      expect(res.headers['www-authenticate']).to.match(/insufficient_scope/);
    });

    it('a system token has no patient and cannot push', async () => {
      const system = await tokenFor(server, null, 'system/Observation.c', 'system');
      await push(HK, fixture('healthkit-all-types.json'), system).expect(403);
    });

    it('a bridge token cannot read anything: search, read and the compartment all answer 403', async () => {
      const created = (await push(HK, { samples: [{ ...fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-all-types.json').samples[0], uuid: '4b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001' }] })).body as BridgeResponse;
      const ref = created.outcomes[0]!.observation!;
      const auth = { authorization: `Bearer ${token}` };
      await request(server.app).get('/fhir/Observation').set(auth).expect(403);
      await request(server.app).get(`/fhir/${ref}`).set(auth).expect(403);
      await request(server.app).get(`/fhir/Patient/${kari}`).set(auth).expect(403);
      await request(server.app).get(`/fhir/Patient/${kari}/Observation`).set(auth).expect((r) => expect([403, 404]).to.include(r.status));
    });

    it('a bridge token cannot write a category outside its grant or for another patient through plain FHIR', async () => {
      const other = await createPatient(server, 'Fremmed');
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
      const base: Observation = {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${kari}` },
        // Patient-generated (access-spec §4.4 row 10): a citizen's own measurement names them as performer.
        performer: [{ reference: `Patient/${kari}` }],
        effectiveDateTime: '2024-05-01T08:00:00Z',
        valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      };
      await request(server.app).post('/fhir/Observation').set(auth).send(JSON.stringify(base)).expect(201);
      // Without it the Observation would be a clinical result, which citizens never write.
      await request(server.app).post('/fhir/Observation').set(auth).send(JSON.stringify({ ...base, performer: undefined })).expect(403);
      await request(server.app).post('/fhir/Observation').set(auth).send(JSON.stringify({ ...base, subject: { reference: `Patient/${other}` } })).expect(403);
      const lab = { ...base, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }] };
      await request(server.app).post('/fhir/Observation').set(auth).send(JSON.stringify(lab)).expect(403);
    });
  });

  describe('request errors are OperationOutcomes', () => {
    it('a body without samples → 400 naming "samples"', async () => {
      const res = await push(HK, { sample: [] }).expect(400);
      expect(res.body.issue[0].expression).to.deep.equal(['samples']);
    });
    it('a Google Fit body without dataSourceId → 400', async () => {
      await push(GF, { point: [] }).expect(400);
    });
    it('malformed JSON → 400', async () => {
      await request(server.app).post(HK).set('authorization', `Bearer ${token}`).set('content-type', 'application/json').send('{"samples": [').expect(400);
    });
    it('more samples than one push may carry → 413', async () => {
      const one = fixture<{ samples: unknown[] }>('healthkit-bad.json').samples[0];
      await push(HK, { samples: Array(10_001).fill(one) }).expect(413);
    });
  });
});
