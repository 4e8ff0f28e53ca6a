import { expect } from 'chai';
import type { OperationOutcome, Patient } from 'fhir/r4';
import { ofMode, q, useSearchServer } from './support.js';

const STRICT = { Prefer: 'handling=strict' };
const LENIENT = { Prefer: 'handling=lenient' };

describe('search: strict and lenient handling, errors', () => {
  const s = useSearchServer();
  let kari: string;
  before(async () => {
    kari = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Nordmann' }] })).id;
    await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Hansen' }] });
  });

  it('lenient (default): an unknown parameter is ignored and reported in an outcome entry', async () => {
    for (const headers of [{}, LENIENT]) {
      const b = await s.search('Patient?family=nordmann&shoesize=42', headers);
      expect(ofMode(b, 'match').map((e) => e.resource!.id)).to.deep.equal([kari]);
      const outcome = ofMode(b, 'outcome');
      expect(outcome).to.have.length(1);
      const oo = outcome[0]!.resource as OperationOutcome;
      expect(oo.resourceType).to.equal('OperationOutcome');
      expect(oo.issue[0]!.severity).to.equal('warning');
      expect(oo.issue[0]!.expression).to.deep.equal(['shoesize']);
      expect(oo.issue[0]!.diagnostics).to.contain('shoesize');
    }
  });

  it('lenient: the ignored parameter does not narrow the result', async () => {
    const b = await s.search('Patient?shoesize=42');
    expect(ofMode(b, 'match')).to.have.length(2);
    expect(b.total).to.equal(2);
  });

  it('strict: an unknown parameter → 400 OperationOutcome naming it', async () => {
    const oo = await s.fails('Patient?family=nordmann&shoesize=42', 400, STRICT);
    expect(oo.issue[0]!.expression).to.deep.equal(['shoesize']);
    expect(oo.issue[0]!.diagnostics).to.contain('shoesize');
  });

  it('strict: an unknown modifier → 400 naming the parameter with its modifier', async () => {
    const oo = await s.fails('Patient?gender:sideways=female', 400, STRICT);
    expect(oo.issue[0]!.expression).to.deep.equal(['gender:sideways']);
  });

  it('strict: an unknown parameter inside _has → 400', async () => {
    const oo = await s.fails('Patient?_has:Observation:patient:nosuch=1', 400, STRICT);
    expect(oo.issue[0]!.expression![0]).to.contain('_has:Observation:patient:nosuch');
  });

  it('an invalid value is 400 in both modes (it cannot be ignored silently)', async () => {
    for (const headers of [{}, STRICT]) {
      const oo = await s.fails('Patient?birthdate=someday', 400, headers);
      expect(oo.issue[0]!.expression).to.deep.equal(['birthdate']);
      expect(oo.issue[0]!.severity).to.equal('error');
    }
  });

  for (const [query, param] of [
    ['_count=abc', '_count'], ['_count=-1', '_count'], ['_offset=x', '_offset'], ['_summary=maybe', '_summary'],
    ['_total=some', '_total'], ['_sort=shoesize', '_sort'], ['_include=Nope:x', '_include'], ['_revinclude=Observation', '_revinclude'],
    ['active:missing=perhaps', 'active:missing'], ['family=', 'family'],
  ] as const) {
    it(`${query} → 400 naming ${param}`, async () => {
      const oo = await s.fails(`Patient?${query}`, 400);
      expect(oo.issue[0]!.expression).to.deep.equal([param]);
    });
  }

  it('_type with an unknown type → 400 naming _type', async () => {
    const oo = await s.fails('?_type=Spaceship', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['_type']);
  });

  it('a value longer than the limit → 400, not a server error', async () => {
    const oo = await s.fails(`Patient?family=${'x'.repeat(5000)}`, 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['family']);
  });

  it('SQL-looking and odd unicode values are just values', async () => {
    expect(await s.ids(`Patient?family=${q("x' OR '1'='1")}`)).to.deep.equal([]);
    expect(await s.ids(`Patient?family=${q('😀\u200b\u202e')}`)).to.deep.equal([]);
    const nul = await s.fails(`Patient?family=${q('a\u0000b')}`, 400);
    expect(nul.issue[0]!.expression).to.deep.equal(['family']);
    expect(await s.ids(`Patient?_id=${q("'; DROP TABLE resources; --")}`)).to.deep.equal([]);
    expect(await s.ids('Patient?family=nordmann')).to.deep.equal([kari]);
  });

  it('a compartment other than Patient → 404 OperationOutcome', async () => {
    const oo = await s.fails(`Encounter/${kari}/Observation`, 404);
    expect(oo.issue[0]!.diagnostics).to.contain('Encounter');
  });

  it('search on an unknown resource type → 404 OperationOutcome', async () => {
    const oo = await s.fails('Spaceship?name=x', 404);
    expect(oo.issue[0]!.diagnostics).to.contain('Spaceship');
  });
});
