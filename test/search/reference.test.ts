import { expect } from 'chai';
import type { Observation, Patient, Practitioner } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const obs = (extra: Partial<Observation>): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'puls' }, ...extra });

describe('search: reference parameters', () => {
  const s = useSearchServer();
  let pat: string;
  let other: string;
  let doc: string;
  let o1: string; // subject pat, performer doc
  let o2: string; // subject other, performer pat
  let o3: string; // subject by absolute URL on another server
  let o4: string; // subject by identifier only
  let o5: string; // no subject

  before(async () => {
    pat = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Berg' }] })).id;
    other = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Dahl' }] })).id;
    doc = (await s.create<Practitioner>({ resourceType: 'Practitioner', name: [{ family: 'Lege' }] })).id;
    o1 = (await s.create(obs({ subject: { reference: `Patient/${pat}` }, performer: [{ reference: `Practitioner/${doc}` }] }))).id;
    o2 = (await s.create(obs({ subject: { reference: `Patient/${other}` }, performer: [{ reference: `Patient/${pat}` }] }))).id;
    o3 = (await s.create(obs({ subject: { reference: 'http://other.example/fhir/Patient/77' } }))).id;
    o4 = (await s.create(obs({ subject: { identifier: { system: 'urn:mrn', value: 'X-9' } } }))).id;
    o5 = (await s.create(obs({}))).id;
  });

  it('Type/id matches the reference', async () => {
    expect(await s.ids(`Observation?subject=Patient/${pat}`)).to.deep.equal([o1]);
  });

  it('a bare id matches, on a single-target parameter and across targets', async () => {
    expect(await s.ids(`Observation?patient=${pat}`)).to.deep.equal([o1]);
    // performer targets several types: a bare id matches whichever type holds it
    expect(await s.ids(`Observation?performer=${pat}`)).to.deep.equal([o2]);
  });

  it(':Type restricts the target type', async () => {
    expect(await s.ids(`Observation?performer:Practitioner=${doc}`)).to.deep.equal([o1]);
    expect(await s.ids(`Observation?performer:Practitioner=${pat}`)).to.deep.equal([]);
    expect(await s.ids(`Observation?performer:Patient=Patient/${pat}`)).to.deep.equal([o2]);
    expect(await s.ids(`Observation?performer:Practitioner=Patient/${pat}`)).to.deep.equal([]);
  });

  it('an absolute URL on this server is the same as Type/id', async () => {
    const base = s.ctx().config.fhirBase;
    expect(await s.ids(`Observation?subject=${q(`${base}/Patient/${pat}`)}`)).to.deep.equal([o1]);
  });

  it('an absolute URL on another server matches that URL exactly', async () => {
    expect(await s.ids(`Observation?subject=${q('http://other.example/fhir/Patient/77')}`)).to.deep.equal([o3]);
    expect(await s.ids(`Observation?subject=${q('http://other.example/fhir/Patient/78')}`)).to.deep.equal([]);
  });

  it('Type/id and a bare id do not match a reference to another server with the same Type/id', async () => {
    expect(await s.ids('Observation?subject=Patient/77')).to.deep.equal([]);
    expect(await s.ids('Observation?patient=77')).to.deep.equal([]);
  });


  it('a versioned reference value matches the resource', async () => {
    expect(await s.ids(`Observation?subject=Patient/${pat}/_history/1`)).to.deep.equal([o1]);
  });

  it(':identifier matches Reference.identifier (system|value and value)', async () => {
    expect(await s.ids(`Observation?subject:identifier=${q('urn:mrn|X-9')}`)).to.deep.equal([o4]);
    expect(await s.ids('Observation?subject:identifier=X-9')).to.deep.equal([o4]);
    expect(await s.ids(`Observation?subject:identifier=${q('urn:other|X-9')}`)).to.deep.equal([]);
  });

  it(':missing', async () => {
    expect(await s.ids('Observation?subject:missing=true')).to.deep.equal([o5]);
    expect(await s.ids('Observation?subject:missing=false')).to.deep.equal(sorted(o1, o2, o3, o4));
  });

  it('OR and AND', async () => {
    expect(await s.ids(`Observation?subject=Patient/${pat},Patient/${other}`)).to.deep.equal(sorted(o1, o2));
    expect(await s.ids(`Observation?subject=Patient/${other}&performer=Patient/${pat}`)).to.deep.equal([o2]);
    expect(await s.ids(`Observation?subject=Patient/${pat}&performer=Patient/${pat}`)).to.deep.equal([]);
  });

  it('a reference with too many segments → 400 naming the parameter', async () => {
    const oo = await s.fails('Observation?subject=a/b/c', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['subject']);
  });

  it('an unknown :Type modifier is rejected under strict handling', async () => {
    const oo = await s.fails('Observation?subject:Spaceship=1', 400, { Prefer: 'handling=strict' });
    expect(oo.issue[0]!.expression).to.deep.equal(['subject:Spaceship']);
  });

  // Last: it adds an observation the tests above do not expect.
  it('a stored absolute reference to this server matches Type/id', async () => {
    const base = s.ctx().config.fhirBase;
    const id = (await s.create(obs({ subject: { reference: `${base}/Patient/${other}` } }))).id;
    expect(await s.ids(`Observation?subject=Patient/${other}`)).to.deep.equal(sorted(o2, id));
  });
});
