/**
 * One builder makes every AccessContext (issue 10, "Structure"): a device-bridge push is a write like
 * any other, so it leaves the access log entry (S23) that the FHIR API's writes leave, naming the app.
 * Before, the bridges built their own context and skipped the write log.
 */
import { expect } from 'chai';
import type { AuditEvent } from 'fhir/r4';
import request from 'supertest';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import type { BridgeResponse } from '../../src/bridges/router.js';
import { findMatchingIds } from '../../src/fhir/search/find-ids.js';
import { BRIDGE_CLIENT, BRIDGE_SCOPE, createPatient, startBridgeServer, tokenFor, type BridgeServer } from '../bridges/http-support.js';
import { fixture } from '../bridges/support.js';

describe('device-bridge writes are logged like every write (one AccessContext builder)', function () {
  this.timeout(120_000);
  let server: BridgeServer;
  after(() => server?.close());

  it('a HealthKit push leaves a create AuditEvent for the patient naming the bridge client and the stored Observations', async () => {
    server = await startBridgeServer();
    const patient = await createPatient(server, 'Loggsen');
    const token = await tokenFor(server, patient, BRIDGE_SCOPE);
    const res = await request(server.app).post('/bridges/healthkit').set('authorization', `Bearer ${token}`).send(fixture('healthkit-all-types.json') as object).expect(200);
    const stored = (res.body as BridgeResponse).outcomes.map((o) => o.observation!);
    expect(stored.length).to.be.greaterThan(0);

    const ids = await findMatchingIds(server.db, 'AuditEvent', `patient=Patient/${patient}`, SYSTEM_ACCESS, 50);
    const events = await Promise.all(ids.map((id) => server.repo.read<AuditEvent>('AuditEvent', id, SYSTEM_ACCESS)));
    const creates = events.filter((e) => e.action === 'C');
    expect(creates, 'one create AuditEvent for the push').to.have.length(1);
    const text = JSON.stringify(creates[0]);
    expect(text).to.include(BRIDGE_CLIENT);
    for (const ref of stored) expect(text, ref).to.include(ref);
  });
});
