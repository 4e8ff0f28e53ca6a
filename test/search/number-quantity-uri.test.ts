import { expect } from 'chai';
import type { Observation, Patient, RiskAssessment, ValueSet } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const UCUM = 'http://unitsofmeasure.org';

describe('search: number, quantity and uri parameters', () => {
  const s = useSearchServer();

  describe('number (RiskAssessment probability)', () => {
    let r10: string; // 0.1
    let r25: string; // 0.25
    let r100: string; // 100
    before(async () => {
      const patient = (await s.create<Patient>({ resourceType: 'Patient' })).id;
      const risk = (p: number): RiskAssessment => ({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${patient}` }, prediction: [{ probabilityDecimal: p }] });
      r10 = (await s.create(risk(0.1))).id;
      r25 = (await s.create(risk(0.25))).id;
      r100 = (await s.create(risk(100))).id;
    });
    const find = (v: string) => s.ids(`RiskAssessment?probability=${q(v)}`);

    it('equality honours the precision of the search value (0.3 ≈ [0.25, 0.35))', async () => {
      expect(await find('0.1')).to.deep.equal([r10]);
      expect(await find('0.3')).to.deep.equal([r25]);
      expect(await find('0.25')).to.deep.equal([r25]);
      expect(await find('0.2')).to.deep.equal([]);
      expect(await find('100')).to.deep.equal([r100]);
      expect(await find('1e2')).to.deep.equal([r100]);
    });
    it('gt lt ge le', async () => {
      expect(await find('gt0.1')).to.deep.equal(sorted(r25, r100));
      expect(await find('ge0.1')).to.deep.equal(sorted(r10, r25, r100));
      expect(await find('lt0.25')).to.deep.equal([r10]);
      expect(await find('le0.25')).to.deep.equal(sorted(r10, r25));
    });
    it('ne excludes the precision range; ap is within 10 %', async () => {
      expect(await find('ne0.1')).to.deep.equal(sorted(r25, r100));
      expect(await find('ap95')).to.deep.equal([r100]);
      expect(await find('ap80')).to.deep.equal([]);
    });
    it('sa / eb behave as gt / lt for a single number', async () => {
      expect(await find('sa0.25')).to.deep.equal([r100]);
      expect(await find('eb0.25')).to.deep.equal([r10]);
    });
    it('a non-number → 400 naming the parameter', async () => {
      const oo = await s.fails(`RiskAssessment?probability=${q('gtten')}`, 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['probability']);
    });
  });

  describe('quantity (Observation value-quantity)', () => {
    let mg: string; // 5.4 mg (UCUM)
    let mgText: string; // 5.4 with only a unit text "mg"
    let mmol: string; // 5.4 mmol/L
    let g: string; // 0.0054 g
    before(async () => {
      const o = (valueQuantity: Observation['valueQuantity']): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'dose' }, valueQuantity });
      mg = (await s.create(o({ value: 5.4, unit: 'milligram', system: UCUM, code: 'mg' }))).id;
      mgText = (await s.create(o({ value: 5.4, unit: 'mg' }))).id;
      mmol = (await s.create(o({ value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' }))).id;
      g = (await s.create(o({ value: 0.0054, unit: 'g', system: UCUM, code: 'g' }))).id;
    });
    const find = (v: string) => s.ids(`Observation?value-quantity=${q(v)}`);

    it('number alone matches any unit', async () => {
      expect(await find('5.4')).to.deep.equal(sorted(mg, mgText, mmol));
    });
    it('value|system|code matches the UCUM code', async () => {
      expect(await find(`5.4|${UCUM}|mg`)).to.deep.equal([mg]);
      expect(await find(`5.4|${UCUM}|mmol/L`)).to.deep.equal([mmol]);
      expect(await find(`5.4|http://snomed.info/sct|mg`)).to.deep.equal([]);
    });
    it('value||unit matches the code or the unit text in any system', async () => {
      expect(await find('5.4||mg')).to.deep.equal(sorted(mg, mgText));
    });
    it('prefixes apply to the number', async () => {
      expect(await find(`gt5|${UCUM}|mg`)).to.deep.equal([mg]);
      expect(await find(`lt5|${UCUM}|mg`)).to.deep.equal([]);
      expect(await find('lt1')).to.deep.equal([g]);
      expect(await find('ne5.4')).to.deep.equal([g]);
      expect(await find(`ap5|${UCUM}|mg`)).to.deep.equal([mg]);
    });
    it('units are not converted: 0.0054 g is not found as 5.4 mg (documented)', async () => {
      expect(await find(`5.4|${UCUM}|mg`)).to.not.include(g);
    });
    it('a non-number value → 400 naming the parameter', async () => {
      const oo = await s.fails(`Observation?value-quantity=${q(`abc|${UCUM}|mg`)}`, 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['value-quantity']);
    });
  });

  describe('uri (ValueSet url)', () => {
    let child: string;
    let parent: string;
    let other: string;
    before(async () => {
      const vs = (url: string): ValueSet => ({ resourceType: 'ValueSet', status: 'active', url });
      child = (await s.create(vs('http://helsebro.no/fhir/ValueSet/lab/blood'))).id;
      parent = (await s.create(vs('http://helsebro.no/fhir/ValueSet/lab'))).id;
      other = (await s.create(vs('http://example.org/ValueSet/x'))).id;
    });

    it('plain uri search is exact', async () => {
      expect(await s.ids(`ValueSet?url=${q('http://helsebro.no/fhir/ValueSet/lab')}`)).to.deep.equal([parent]);
      expect(await s.ids(`ValueSet?url=${q('http://helsebro.no/fhir/ValueSet')}`)).to.deep.equal([]);
    });
    it(':below matches the uri and everything under it', async () => {
      expect(await s.ids(`ValueSet?url:below=${q('http://helsebro.no/fhir/ValueSet/lab')}`)).to.deep.equal(sorted(child, parent));
      expect(await s.ids(`ValueSet?url:below=${q('http://helsebro.no/')}`)).to.deep.equal(sorted(child, parent));
    });
    it(':above matches the uri and the uris it lies under', async () => {
      expect(await s.ids(`ValueSet?url:above=${q('http://helsebro.no/fhir/ValueSet/lab/blood/glucose')}`)).to.deep.equal(sorted(child, parent));
      expect(await s.ids(`ValueSet?url:above=${q('http://example.org/ValueSet/x')}`)).to.deep.equal([other]);
    });
    it('% and _ in a :below value are literal', async () => {
      expect(await s.ids(`ValueSet?url:below=${q('http%')}`)).to.deep.equal([]);
    });
  });
});
