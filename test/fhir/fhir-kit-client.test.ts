import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { Client } from 'fhir-kit-client';
import type { Bundle, CapabilityStatement, Patient } from "fhir/r4";
import { createTestContext, type TestContext } from '../support/app.js';

describe('a round trip with fhir-kit-client against a listening server', () => {
  let ctx: TestContext;
  let server: Server;
  let client: Client;
  before(async () => {
    ctx = await createTestContext();
    server = ctx.app.listen(0);
    await new Promise((r) => server.once('listening', r));
    client = new Client({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir` });
  });
  after(async () => {
    server.close();
    await ctx.close();
  });

  it('create, read, update, history and delete work from a standard FHIR client', async () => {
    const capability = (await client.capabilityStatement()) as unknown as CapabilityStatement;
    expect(capability.fhirVersion).to.equal('4.0.1');
    const created = (await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family: 'Klient' }] } })) as unknown as Patient;
    const read = (await client.read({ resourceType: 'Patient', id: created.id! })) as unknown as Patient;
    expect(read.name![0]!.family).to.equal('Klient');
    const updated = (await client.update({ resourceType: 'Patient', id: created.id!, body: { ...read, gender: 'female' } })) as unknown as Patient;
    expect(updated.meta!.versionId).to.equal('2');
    const history = (await client.history({ resourceType: "Patient", id: created.id! })) as unknown as Bundle;
    expect(history.entry).to.have.length(2);
    await client.delete({ resourceType: 'Patient', id: created.id! });
    try {
      await client.read({ resourceType: 'Patient', id: created.id! });
      expect.fail('read after delete should fail');
    } catch (err) {
      expect((err as { response: { status: number } }).response.status).to.equal(410);
    }
  });
});
