/**
 * Contact details (issue 14; access-spec §5.2, FAQ "Update them in the Personal Information
 * section"; A13 parents for the child): the patient side changes Patient.telecom and
 * Patient.communication and nothing else of the register data.
 */
import { expect } from 'chai';
import type { OperationOutcome, Patient } from 'fhir/r4';
import { buildWorld, type TestedActor, type World } from '../access/world.js';

describe('contact details of the own record (issue 14)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(async () => {
    await w?.s.close();
  });

  async function read(actor: TestedActor, id: string): Promise<Patient> {
    const res = await fetch(`${w.s.fhirBase}/Patient/${id}`, { headers: { authorization: `Bearer ${w.tokens[actor]}` } });
    expect(res.status).to.equal(200);
    return (await res.json()) as Patient;
  }
  async function put(actor: TestedActor, p: Patient): Promise<{ status: number; body: Patient | OperationOutcome }> {
    const res = await fetch(`${w.s.fhirBase}/Patient/${p.id}`, { method: 'PUT', headers: { authorization: `Bearer ${w.tokens[actor]}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(p) });
    return { status: res.status, body: (await res.json()) as Patient | OperationOutcome };
  }

  for (const [actor, id] of [['self', 'kari-nordmann'], ['parent', 'emma-johansen']] as const) {
    it(`${actor} changes telecom and language of ${id}`, async () => {
      const p = await read(actor, id);
      const telecom = [{ system: 'phone' as const, value: '+47 912 34 567', use: 'mobile' as const }, { system: 'email' as const, value: `${id}@example.no` }];
      const communication = [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'nn' }] }, preferred: true }];
      const res = await put(actor, { ...p, telecom, communication });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const again = await read(actor, id);
      expect(again.telecom).to.deep.equal(telecom);
      expect(again.communication).to.deep.equal(communication);
    });

    it(`${actor} may not change the register data of ${id} (birth date, address)`, async () => {
      const p = await read(actor, id);
      for (const change of [{ birthDate: '1950-01-01' }, { address: [{ line: ['Ny gate 1'], postalCode: '0001', city: 'Oslo' }] }]) {
        const res = await put(actor, { ...p, ...change });
        expect(res.status, JSON.stringify(change)).to.be.oneOf([403, 422]);
        expect(res.body.resourceType).to.equal('OperationOutcome');
      }
      const again = await read(actor, id);
      expect(again.birthDate).to.equal(p.birthDate);
      expect(again.address).to.deep.equal(p.address);
    });
  }

  it('a proxy may not change the patient’s contact details', async () => {
    const p = await read('full', 'kari-nordmann');
    const res = await put('full', { ...p, telecom: [{ system: 'phone', value: '+47 000 00 000' }] });
    expect(res.status).to.equal(403);
    expect((await read('self', 'kari-nordmann')).telecom).to.not.deep.equal([{ system: 'phone', value: '+47 000 00 000' }]);
  });
});
