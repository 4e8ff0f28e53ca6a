/**
 * Observation's combo-* parameters are not written as rows of their own: they are `X | component.X`,
 * and their searches read the rows of X and component-X (row-sources.ts, issue 11 §4). Every search
 * must answer as when the rows were written: values, modifiers, :missing, _sort, conditional create,
 * and an Observation stored before (its combo rows still in the database) is found once.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Observation } from 'fhir/r4';
import { extractIndexRows } from '../../src/fhir/search/extract.js';
import { indexInsertCtes } from '../../src/fhir/search/index-writer.js';
import { q, sorted, useSearchServer } from './support.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const HR = { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] };
const BP = { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] };
const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });

describe('search: combo parameters answered from their sources’ rows', () => {
  const s = useSearchServer();
  let pulse: string; // code + valueQuantity 72
  let pressure: string; // panel: components 8480-6 = 130, 8462-4 = 85
  let concept: string; // valueCodeableConcept, component with a dataAbsentReason
  let older: string; // stored with its combo rows, as before
  let bare: string; // code only

  before(async () => {
    pulse = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: HR, valueQuantity: { value: 72, unit: 'beats/minute', system: UCUM, code: '/min' } })).id;
    pressure = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: BP, component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: mmHg(130) },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: mmHg(85) },
    ] })).id;
    concept = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'mood' }, valueCodeableConcept: { coding: [{ system: 'urn:mood', code: 'calm' }] }, component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'asked-declined' }] } },
    ] })).id;
    bare = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] } })).id;
    // An Observation written before combo rows were left out: its version also has rows under combo-*.
    const old = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: HR, valueQuantity: { value: 58, unit: 'beats/minute', system: UCUM, code: '/min' } }));
    older = old.id;
    const [{ seq }] = await s.ctx().db.query<{ seq: string }>('SELECT seq FROM resources WHERE resource_type = $1 AND id = $2', ['Observation', older]);
    const all = extractIndexRows(old);
    const combo = Object.fromEntries(Object.entries(all).map(([t, list]) => [t, (list as Array<{ code: string }>).filter((r) => r.code.startsWith('combo-') && !r.code.includes('$'))])) as unknown as typeof all;
    expect(combo.token.length + combo.quantity.length).to.be.greaterThan(1);
    const params: unknown[] = [];
    await s.ctx().db.query(`WITH ${indexInsertCtes([{ type: 'Observation', id: older, seq: Number(seq), rows: combo }], params).join(', ')} SELECT 1`, params);
  });

  it('combo-code finds the code and the component codes', async () => {
    expect(await s.ids(`Observation?combo-code=${q(`${LOINC}|8867-4`)}`)).to.deep.equal(sorted(pulse, older));
    expect(await s.ids(`Observation?combo-code=${q(`${LOINC}|8480-6`)}`)).to.deep.equal(sorted(pressure, concept));
    expect(await s.ids('Observation?combo-code=8462-4,29463-7')).to.deep.equal(sorted(pressure, bare));
    expect(await s.ids('Observation?combo-code:text=heart')).to.deep.equal(sorted(pulse, older));
    expect(await s.ids(`Observation?combo-code:not=${q(`${LOINC}|8480-6`)}`)).to.deep.equal(sorted(pulse, older, bare));
  });

  it('combo-value-quantity finds values and component values', async () => {
    expect(await s.ids('Observation?combo-value-quantity=gt100')).to.deep.equal([pressure]);
    expect(await s.ids(`Observation?combo-value-quantity=${q(`lt80|${UCUM}|/min`)}`)).to.deep.equal(sorted(pulse, older));
    expect(await s.ids('Observation?combo-value-quantity=58||beats/minute')).to.deep.equal([older]);
    expect(await s.ids('Observation?combo-value-quantity=85')).to.deep.equal([pressure]);
  });

  it('combo-value-concept and combo-data-absent-reason', async () => {
    expect(await s.ids('Observation?combo-value-concept=urn:mood|calm')).to.deep.equal([concept]);
    expect(await s.ids('Observation?combo-data-absent-reason=asked-declined')).to.deep.equal([concept]);
  });

  it(':missing counts a value anywhere, old rows or new', async () => {
    expect(await s.ids('Observation?combo-value-quantity:missing=false')).to.deep.equal(sorted(pulse, pressure, older));
    expect(await s.ids('Observation?combo-value-quantity:missing=true')).to.deep.equal(sorted(concept, bare));
    expect(await s.ids('Observation?combo-data-absent-reason:missing=true')).to.deep.equal(sorted(pulse, pressure, older, bare));
  });

  it('_sort by a combo parameter orders by the smallest value of either source', async () => {
    const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource!.id);
    expect(ids(await s.search('Observation?combo-value-quantity:missing=false&_sort=combo-value-quantity'))).to.deep.equal([older, pulse, pressure]);
    expect(ids(await s.search('Observation?combo-value-quantity:missing=false&_sort=-combo-value-quantity'))).to.deep.equal([pressure, pulse, older]);
  });

  it('a conditional create on combo-code matches as the search does', async () => {
    const res = await request(s.ctx().app).post('/fhir/Observation').set('Content-Type', 'application/fhir+json').set('If-None-Exist', `combo-code=${LOINC}|8462-4`)
      .send({ resourceType: 'Observation', status: 'final', code: BP });
    expect(res.status).to.equal(200);
    expect(res.body.id).to.equal(pressure);
  });
});
