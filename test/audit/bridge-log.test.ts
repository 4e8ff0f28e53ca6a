/**
 * Bridge pushes reach the access log like every other write (issue 10 §6): the patient finds the
 * push, with the Observations and Devices it wrote, under the bridge app's registered name.
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle } from 'fhir/r4';
import request from 'supertest';
import type { BridgeResponse } from '../../src/bridges/router.js';
import { BRIDGE_SCOPE, createPatient, startBridgeServer, tokenFor, type BridgeServer } from '../bridges/http-support.js';
import { fixture } from '../bridges/support.js';

describe('the access log of a bridge push (issue 10 §6)', function () {
  this.timeout(120_000);
  let server: BridgeServer;
  after(() => server?.close());

  it('a HealthKit push leaves a create entry the patient can find, naming the bridge by its registered name', async () => {
    server = await startBridgeServer();
    const patient = await createPatient(server, 'Logg');
    const push = await request(server.app).post('/bridges/healthkit').set('authorization', `Bearer ${await tokenFor(server, patient, BRIDGE_SCOPE)}`).send(fixture('healthkit-all-types.json') as object);
    expect(push.status).to.equal(200);
    const observations = (push.body as BridgeResponse).outcomes.map((o) => o.observation!);
    expect(observations).to.have.length(16);

    const reader = await tokenFor(server, patient, 'launch/patient patient/AuditEvent.rs');
    const res = await request(server.app).get(`/fhir/AuditEvent?patient=Patient/${patient}&action=C`).set('authorization', `Bearer ${reader}`);
    expect(res.status).to.equal(200);
    const events = ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
    expect(events).to.have.length(1);
    const refs = events[0]!.entity!.map((x) => x.what?.reference);
    expect(refs).to.include.members(observations);
    expect(refs.some((r) => r?.startsWith('Device/'))).to.equal(true);
    expect(events[0]!.agent[0]!.who?.reference).to.equal(`Patient/${patient}`);
    expect(events[0]!.agent[1]!.who?.display).to.equal('Test HealthKit bridge');

    // A re-push writes nothing new, so it adds no write entry.
    await request(server.app).post('/bridges/healthkit').set('authorization', `Bearer ${await tokenFor(server, patient, BRIDGE_SCOPE)}`).send(fixture('healthkit-all-types.json') as object).expect(200);
    const again = await request(server.app).get(`/fhir/AuditEvent?patient=Patient/${patient}&action=C&_summary=count`).set('authorization', `Bearer ${reader}`);
    expect((again.body as Bundle).total).to.equal(1);
  });
});
