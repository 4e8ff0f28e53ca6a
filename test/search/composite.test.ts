import { expect } from 'chai';
import type { Observation } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });
const bp = (systolic: number, diastolic: number): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: LOINC, code: '85354-9' }] },
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: mmHg(systolic) },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: mmHg(diastolic) },
  ],
});

describe('search: composite parameters', () => {
  const s = useSearchServer();
  let high: string; // 150/95
  let normal: string; // 118/78
  let swapped: string; // 85/145: the diastolic value is high, the systolic one is not
  let weight: string;
  let smoker: string;
  let dated: string;
  let texted: string;

  before(async () => {
    high = (await s.create(bp(150, 95))).id;
    normal = (await s.create(bp(118, 78))).id;
    swapped = (await s.create(bp(85, 145))).id;
    weight = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] }, valueQuantity: { value: 72.5, unit: 'kg', system: UCUM, code: 'kg' } })).id;
    smoker = (await s.create<Observation>({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '72166-2' }] },
      valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '449868002' }] },
    })).id;
    dated = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '21112-8' }] }, valueDateTime: '1980-05-17' })).id;
    texted = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8302-2' }] }, valueString: 'Ødegård målte selv' })).id;
  });

  it('component-code-value-quantity, code and value on the same component → only that observation', async () => {
    expect(await s.ids(`Observation?component-code-value-quantity=${q(`${LOINC}|8480-6$gt140`)}`)).to.deep.equal([high]);
  });

  it('component-code-value-quantity, code of one component and value of another → no match', async () => {
    // `swapped` has a systolic component (85) and a value 145 on its diastolic component.
    expect(await s.ids(`Observation?component-code-value-quantity=${q(`${LOINC}|8480-6$gt140`)}`)).to.not.include(swapped);
    expect(await s.ids(`Observation?component-code-value-quantity=${q(`${LOINC}|8462-4$gt140`)}`)).to.deep.equal([swapped]);
  });

  it('component composite with a unit and a lt prefix, code without system', async () => {
    expect(await s.ids(`Observation?component-code-value-quantity=${q(`8480-6$lt120|${UCUM}|mm[Hg]`)}`)).to.deep.equal(sorted(normal, swapped));
    expect(await s.ids(`Observation?component-code-value-quantity=${q(`8480-6$lt120|${UCUM}|kg`)}`)).to.deep.equal([]);
  });

  it('composite OR values (comma) and AND (repeated parameter)', async () => {
    const either = `${q(`${LOINC}|8480-6$gt140`)},${q(`${LOINC}|8480-6$lt90`)}`;
    expect(await s.ids(`Observation?component-code-value-quantity=${either}`)).to.deep.equal(sorted(high, swapped));
    const both = `component-code-value-quantity=${q('8480-6$gt100')}&component-code-value-quantity=${q('8462-4$lt80')}`;
    expect(await s.ids(`Observation?${both}`)).to.deep.equal([normal]);
  });

  it('code-value-quantity on the Observation itself, with precision of the number', async () => {
    expect(await s.ids(`Observation?code-value-quantity=${q(`${LOINC}|29463-7$72.5`)}`)).to.deep.equal([weight]);
    expect(await s.ids(`Observation?code-value-quantity=${q(`${LOINC}|29463-7$72`)}`)).to.deep.equal([]);
    expect(await s.ids(`Observation?code-value-quantity=${q(`${LOINC}|29463-7$ge70|${UCUM}|kg`)}`)).to.deep.equal([weight]);
    // A component's value does not count for the resource-level composite.
    expect(await s.ids(`Observation?code-value-quantity=${q(`${LOINC}|8480-6$gt0`)}`)).to.deep.equal([]);
  });

  it('combo-code-value-quantity ranges over the Observation and its components', async () => {
    expect(await s.ids(`Observation?combo-code-value-quantity=${q(`${LOINC}|8480-6$gt140`)}`)).to.deep.equal([high]);
    expect(await s.ids(`Observation?combo-code-value-quantity=${q(`${LOINC}|29463-7$gt70`)}`)).to.deep.equal([weight]);
  });

  it('component-value-quantity and combo-value-quantity find a blood pressure by either component value', async () => {
    // Both components of a two-component reading are indexed (a cast item by item, expressions.ts perItemCasts).
    expect(await s.ids('Observation?component-value-quantity=gt130')).to.deep.equal(sorted(high, swapped));
    expect(await s.ids('Observation?component-value-quantity=gt146')).to.deep.equal([high]);
    expect(await s.ids(`Observation?component-value-quantity=${q(`lt80|${UCUM}|mm[Hg]`)}`)).to.deep.equal([normal]);
    expect(await s.ids('Observation?combo-value-quantity=gt130')).to.deep.equal(sorted(high, swapped));
    expect(await s.ids('Observation?combo-value-quantity=72.5')).to.deep.equal([weight]);
  });

  it('code-value-concept matches a CodeableConcept value under the code', async () => {
    expect(await s.ids(`Observation?code-value-concept=${q(`${LOINC}|72166-2$http://snomed.info/sct|449868002`)}`)).to.deep.equal([smoker]);
    expect(await s.ids(`Observation?code-value-concept=${q(`${LOINC}|72166-2$http://snomed.info/sct|8517006`)}`)).to.deep.equal([]);
  });

  it('code-value-date uses date prefixes and precision', async () => {
    expect(await s.ids(`Observation?code-value-date=${q(`${LOINC}|21112-8$1980`)}`)).to.deep.equal([dated]);
    expect(await s.ids(`Observation?code-value-date=${q(`${LOINC}|21112-8$lt1980-05-17`)}`)).to.deep.equal([]);
    expect(await s.ids(`Observation?code-value-date=${q(`${LOINC}|21112-8$ne1980`)}`)).to.deep.equal([]);
    expect(await s.ids(`Observation?code-value-date=${q(`${LOINC}|21112-8$ne1981`)}`)).to.deep.equal([dated]);
  });

  it('code-value-string folds accents like any string parameter', async () => {
    expect(await s.ids(`Observation?code-value-string=${q(`${LOINC}|8302-2$odegard`)}`)).to.deep.equal([texted]);
    expect(await s.ids(`Observation?code-value-string=${q(`${LOINC}|1234-5$odegard`)}`)).to.deep.equal([]);
  });

  it('an escaped \\$ is part of the value, not a separator', async () => {
    const id = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8302-2' }] }, valueString: 'pris $5' })).id;
    expect(await s.ids(`Observation?code-value-string=${q('8302-2$pris \\$5')}`)).to.deep.equal([id]);
  });

  it(':missing on a composite', async () => {
    const ids = await s.ids('Observation?component-code-value-quantity:missing=false');
    expect(ids).to.deep.equal(sorted(high, normal, swapped));
    // Present means every component has a value on one element: a code alone is no code-value-quantity.
    expect(await s.ids('Observation?code-value-quantity:missing=false')).to.deep.equal([weight]);
    expect(await s.ids('Observation?code-value-string:missing=false')).to.include(texted).and.not.include(weight);
    expect(await s.ids('Observation?code-value-quantity:missing=true')).to.include.members([high, normal, swapped, smoker, dated, texted]).and.not.include(weight);
  });

  it('a value without the $ part → 400 naming the parameter', async () => {
    const oo = await s.fails(`Observation?component-code-value-quantity=${q(`${LOINC}|8480-6`)}`, 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['component-code-value-quantity']);
    expect(oo.issue[0]!.diagnostics).to.match(/token\$quantity/);
  });

  it('a bad value in the second part → 400 naming the parameter', async () => {
    const oo = await s.fails(`Observation?component-code-value-quantity=${q('8480-6$gtabc')}`, 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['component-code-value-quantity']);
  });

  it('an update re-indexes the components (the old value no longer matches)', async () => {
    const obs = await s.create(bp(160, 100));
    expect(await s.ids(`Observation?component-code-value-quantity=${q('8480-6$160')}`)).to.deep.equal([obs.id]);
    const { default: request } = await import('supertest');
    const put = await request(s.ctx().app).put(`/fhir/Observation/${obs.id}`).set('Content-Type', 'application/fhir+json').send({ ...bp(130, 85), id: obs.id });
    expect(put.status).to.equal(200);
    expect(await s.ids(`Observation?component-code-value-quantity=${q('8480-6$160')}`)).to.deep.equal([]);
    expect(await s.ids(`Observation?component-code-value-quantity=${q('8480-6$130')}`)).to.deep.equal([obs.id]);
  });
});
