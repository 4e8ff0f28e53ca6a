import { expect } from 'chai';
import type { Bundle, BundleEntry, Device, Observation, Provenance } from 'fhir/r4';
import type { AccessContext } from '../../src/access/access-context.js';
import { parseScopes, scopeRestrictions } from '../../src/identity/scopes.js';
import { bridgeWriteAccess } from '../../src/bridges/bridge-access.js';
import { describeGrant, grantChecker } from '../../src/bridges/grant.js';
import { convertHealthKit } from '../../src/bridges/healthkit.js';
import { SID } from '../../src/bridges/identity.js';
import { planTransaction, storeSamples, type ProcessTransaction } from '../../src/bridges/store.js';
import type { ValidSample } from '../../src/bridges/sample.js';
import { FhirError } from '../../src/fhir/errors.js';
import { CTX, fixture } from './support.js';

const all = convertHealthKit(fixture('healthkit-all-types.json'), CTX);
const validSamples = all.filter((s): s is ValidSample => s.status === 'valid');

/** Answers a transaction like the server: the first time an identifier is seen 201, later 200. */
function fakeServer(refuse?: (entry: BundleEntry, index: number) => FhirError | null) {
  const stored = new Map<string, string>();
  const calls: Array<{ bundle: Bundle; access: AccessContext }> = [];
  const process: ProcessTransaction = async (bundle, access) => {
    calls.push({ bundle, access });
    const entries = bundle.entry ?? [];
    entries.forEach((e, i) => {
      const err = refuse?.(e, i);
      if (err) throw err;
    });
    const staged = new Map(stored);
    const response = entries.map((e, i): BundleEntry => {
      const key = e.request!.ifNoneExist!;
      const existing = staged.get(key);
      const id = existing ?? `${e.resource!.resourceType.toLowerCase()}-${staged.size + 1}-${i}`;
      staged.set(key, id);
      return { response: { status: existing ? '200 OK' : '201 Created', location: `${e.resource!.resourceType}/${id}/_history/1` } };
    });
    for (const [k, v] of staged) stored.set(k, v);
    return { resourceType: 'Bundle', type: 'transaction-response', entry: response };
  };
  return { process, calls, stored };
}

describe('bridge store', () => {
  it('plans one transaction: a conditional create per Device, per Observation and per Provenance', () => {
    const plan = planTransaction(validSamples, CTX);
    const entries = plan.bundle.entry!;
    expect(plan.bundle.type).to.equal('transaction');
    const byType = (t: string) => entries.filter((e) => e.resource?.resourceType === t);
    const devices = byType('Device');
    expect(byType('Observation')).to.have.length(validSamples.length);
    expect(devices.length).to.equal(new Set(validSamples.map((s) => s.device.fullUrl)).size);
    expect(byType('Provenance')).to.have.length(devices.length);
    for (const e of entries) expect(e.request?.method).to.equal('POST');
    const obs = byType('Observation')[0]!;
    expect(obs.request?.ifNoneExist).to.equal(`identifier=${SID.healthKitUuid}|0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001`);
    expect((obs.resource as Observation).device?.reference).to.equal(devices[0]!.fullUrl);
    expect(devices[0]!.request?.ifNoneExist).to.match(new RegExp(`^identifier=${SID.bridgeDevice}\\|[0-9a-f]{64}$`));
  });

  it('each Provenance targets the Observations of its source, names the app and the patient, and is keyed by the push', () => {
    const entries = planTransaction(validSamples, CTX).bundle.entry!;
    const provenance = entries.filter((e) => e.resource?.resourceType === 'Provenance');
    const targets = provenance.flatMap((e) => (e.resource as Provenance).target.map((t) => t.reference));
    expect(targets.sort()).to.deep.equal(validSamples.map((s) => s.observationFullUrl).sort());
    const withings = provenance.map((e) => e.resource as Provenance).find((p) => p.agent[0]!.who.display === 'Withings')!;
    expect(withings.agent.map((a) => [a.type?.coding?.[0]?.code, a.who.reference?.startsWith('urn:uuid:') ? 'device' : a.who.reference])).to.deep.equal([
      ['author', 'device'],
      ['informant', 'Patient/kari'],
    ]);
    expect(withings.recorded).to.equal(CTX.now.toISOString());
    expect(withings.entity?.[0]?.role).to.equal('source');
    expect(provenance[0]!.request?.ifNoneExist).to.match(new RegExp(`^entity:identifier=${SID.bridgePush}\\|[0-9a-f]{64}$`));
  });

  it('a proxy who pushes for the patient is the Provenance enterer', () => {
    const entries = planTransaction(validSamples.slice(0, 1), { ...CTX, enterer: 'RelatedPerson/rp1' }).bundle.entry!;
    const p = entries.find((e) => e.resource?.resourceType === 'Provenance')!.resource as Provenance;
    expect(p.agent.map((a) => a.type?.coding?.[0]?.code)).to.deep.equal(['author', 'informant', 'enterer']);
    expect(p.agent[2]!.who.reference).to.equal('RelatedPerson/rp1');
  });

  it('201 becomes created and 200 already-present; a second push of the same samples is all already-present', async () => {
    const server = fakeServer();
    const first = await storeSamples(server.process, all, CTX, 'Patient/kari');
    expect(first.map((o) => o.status)).to.deep.equal(all.map(() => 'created'));
    expect(first[0]).to.deep.include({ index: 0, id: '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001' });
    expect(first[0]!.observation).to.match(/^Observation\/observation-/);
    const second = await storeSamples(server.process, all, CTX, 'Patient/kari');
    expect(second.map((o) => o.status)).to.deep.equal(all.map(() => 'already-present'));
    expect(second.map((o) => o.observation)).to.deep.equal(first.map((o) => o.observation));
  });

  it('writes with the bridge access context, confined to the patient', async () => {
    const server = fakeServer();
    await storeSamples(server.process, all.slice(0, 1), CTX, 'Patient/kari');
    const access = server.calls[0]!.access;
    expect(access.patientId).to.equal('kari');
    expect(access.actor).to.equal('Patient/kari');
    expect(access.filters).to.deep.include({ kind: 'query', resourceType: 'Observation', query: 'subject=Patient/kari' });
  });

  it('nothing valid → no transaction at all; rejections are reported', async () => {
    const server = fakeServer();
    const bad = convertHealthKit(fixture('healthkit-bad.json'), CTX);
    const out = await storeSamples(server.process, bad, CTX, null);
    expect(server.calls).to.have.length(0);
    expect(out.every((o) => o.status === 'rejected' && o.reason)).to.equal(true);
  });

  it('an entry the server refuses rejects that sample with the server’s reason; the others are still stored', async () => {
    const refused = validSamples[3]!.observationFullUrl;
    const server = fakeServer((e, i) => (e.fullUrl === refused ? new FhirError(422, { code: 'invalid', diagnostics: `Bundle.entry[${i}] (POST Observation): Observation.value is wrong`, expression: [`Bundle.entry[${i}]`] }) : null));
    const out = await storeSamples(server.process, all, CTX, null);
    expect(out[3]).to.deep.equal({ index: 3, id: validSamples[3]!.id, status: 'rejected', reason: 'not stored: Observation.value is wrong' });
    expect(out.filter((o) => o.status === 'created')).to.have.length(all.length - 1);
    expect(server.calls).to.have.length(2);
  });

  it('a refusal that names no entry is a server fault and propagates', async () => {
    const server = fakeServer(() => new FhirError(500, { code: 'exception', diagnostics: 'database down' }));
    let error: unknown;
    await storeSamples(server.process, all, CTX, null).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(FhirError);
  });

  it('pushes for the same patient are written one after the other; different patients in parallel', async () => {
    let running = 0;
    let most = 0;
    const slow: ProcessTransaction = async (bundle, access) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return fakeServer().process(bundle, access);
    };
    await Promise.all([storeSamples(slow, all, CTX, null), storeSamples(slow, all, CTX, null), storeSamples(slow, all, CTX, null)]);
    expect(most).to.equal(1);
    most = 0;
    await Promise.all([storeSamples(slow, all, CTX, null), storeSamples(slow, all, { ...CTX, patientId: 'ola' }, null)]);
    expect(most).to.equal(2);
  });

  it('a duplicate inside the push is already-present, pointing at the same Observation as its first', async () => {
    const f = fixture<{ samples: unknown[] }>('healthkit-all-types.json');
    const pushed = convertHealthKit({ samples: [f.samples[0], f.samples[0]] }, CTX);
    const out = await storeSamples(fakeServer().process, pushed, CTX, null);
    expect(out[0]!.status).to.equal('created');
    expect(out[1]).to.deep.include({ status: 'already-present', observation: out[0]!.observation, reason: 'same sample as sample 0 of this push' });
  });
});

describe('bridge grant and access context', () => {
  const hk = (scope: string) => scopeRestrictions(parseScopes(scope), 'patient', 'Observation', 'c');
  const vitals = 'patient/Observation.c?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
  const obs = (i: number) => validSamples[i]!.observation;

  it('a vital-signs grant admits a heart rate and refuses steps and sleep', () => {
    const admits = grantChecker(hk(vitals)!);
    expect(admits(obs(0))).to.equal(true);
    expect(admits(obs(11))).to.equal(false);
    expect(admits(obs(13))).to.equal(false);
    expect(describeGrant(hk(vitals)!)).to.equal(vitals);
  });

  it('vital-signs and activity grants together admit both; an unrestricted grant admits all', () => {
    const both = grantChecker(hk(`${vitals} patient/Observation.c?category=http://terminology.hl7.org/CodeSystem/observation-category|activity`)!);
    expect(validSamples.every((s) => both(s.observation))).to.equal(true);
    expect(hk('patient/Observation.crs')).to.deep.equal([]);
    expect(validSamples.every((s) => grantChecker([])(s.observation))).to.equal(true);
  });

  it('a grant restricted on a parameter the matcher cannot evaluate admits nothing', () => {
    expect(grantChecker(hk('patient/Observation.c?date=ge2020-01-01')!)(obs(0))).to.equal(false);
  });

  it('the write context allows only creates of the patient’s own Observation, Device and Provenance', () => {
    const access = bridgeWriteAccess('kari', 'Patient/kari');
    const o = obs(0);
    expect(() => access.checkWrite('create', o, undefined)).to.not.throw();
    expect(() => access.checkWrite('update', o, o)).to.throw(/only creates/);
    const otherPatient: Observation = { ...o, subject: { reference: 'Patient/ola' } };
    const laboratory: Observation = { ...o, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }] };
    expect(() => access.checkWrite('create', otherPatient, undefined)).to.throw(/token’s patient as subject/);
    expect(() => access.checkWrite('create', laboratory, undefined)).to.throw(/vital-signs or activity/);
    const device: Device = { ...validSamples[0]!.device.resource };
    expect(() => access.checkWrite('create', device, undefined)).to.not.throw();
    const othersDevice: Device = { ...device, patient: { reference: 'Patient/ola' } };
    expect(() => access.checkWrite('create', othersDevice, undefined)).to.throw(/belong to the token’s patient/);
    expect(() => access.checkWrite('create', { resourceType: 'Patient' }, undefined)).to.throw(/does not write Patient/);
    const p: Provenance = { resourceType: 'Provenance', target: [{ reference: 'Patient/ola' }], recorded: CTX.now.toISOString(), agent: [{ who: { reference: 'Patient/kari' } }] };
    expect(() => access.checkWrite('create', p, undefined)).to.throw(/only target Observations/);
  });
});
