import { expect } from 'chai';
import type { Observation, Patient } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const LOINC = 'http://loinc.org';
const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
const V2 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

describe('search: token parameters', () => {
  const s = useSearchServer();
  let glucose: string; // LOINC 2339-0, text "Glukose i blod"
  let local: string; // code 2339-0 without a system
  let hba1c: string; // LOINC 4548-4 + local code
  let kari: string;
  let ola: string;
  let anon: string;

  before(async () => {
    glucose = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }], text: 'Glukose i blod' } })).id;
    local = (await s.create<Observation>({ resourceType: 'Observation', status: 'preliminary', code: { coding: [{ code: '2339-0' }] } })).id;
    hba1c = (await s.create<Observation>({
      resourceType: 'Observation', status: 'final',
      code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c' }, { system: 'urn:local', code: 'HBA1C' }] },
    })).id;
    kari = (await s.create<Patient>({
      resourceType: 'Patient', active: true, gender: 'female',
      identifier: [{ system: FNR, value: '13097248022', type: { coding: [{ system: V2, code: 'NI' }] } }, { system: 'urn:mrn', value: 'MR-1', type: { coding: [{ system: V2, code: 'MR' }] } }],
      telecom: [{ system: 'phone', value: '+4791234567' }, { system: 'email', value: 'kari@example.no' }],
      meta: { tag: [{ system: 'urn:tags', code: 'vip' }] },
    })).id;
    ola = (await s.create<Patient>({ resourceType: 'Patient', active: false, gender: 'male', identifier: [{ system: FNR, value: '01018010018' }], telecom: [{ system: 'phone', value: '+4799999999' }] })).id;
    anon = (await s.create<Patient>({ resourceType: 'Patient', gender: 'unknown' })).id;
  });

  describe('CodeableConcept (Observation.code)', () => {
    it('system|code matches only that system', async () => {
      expect(await s.ids(`Observation?code=${q(`${LOINC}|2339-0`)}`)).to.deep.equal([glucose]);
    });
    it('a bare code matches in any system and without one', async () => {
      expect(await s.ids('Observation?code=2339-0')).to.deep.equal(sorted(glucose, local));
    });
    it('|code matches only codes without a system', async () => {
      expect(await s.ids(`Observation?code=${q('|2339-0')}`)).to.deep.equal([local]);
    });
    it('system| matches any code of the system', async () => {
      expect(await s.ids(`Observation?code=${q(`${LOINC}|`)}`)).to.deep.equal(sorted(glucose, hba1c));
      expect(await s.ids(`Observation?code=${q('urn:local|')}`)).to.deep.equal([hba1c]);
    });
    it('any of several codings can match; OR across values', async () => {
      expect(await s.ids(`Observation?code=${q('urn:local|HBA1C')}`)).to.deep.equal([hba1c]);
      expect(await s.ids(`Observation?code=${q(`${LOINC}|2339-0`)},${q('urn:local|HBA1C')}`)).to.deep.equal(sorted(glucose, hba1c));
    });
    it('codes are case-sensitive', async () => {
      expect(await s.ids(`Observation?code=${q('urn:local|hba1c')}`)).to.deep.equal([]);
    });
    it(':not excludes resources with the code (and keeps those without it)', async () => {
      expect(await s.ids(`Observation?code:not=${q(`${LOINC}|2339-0`)}`)).to.deep.equal(sorted(local, hba1c));
      expect(await s.ids('Observation?status:not=final')).to.deep.equal([local]);
    });
    it(':text matches CodeableConcept.text and Coding.display, folded, starts-with', async () => {
      expect(await s.ids('Observation?code:text=glukose')).to.deep.equal([glucose]);
      expect(await s.ids('Observation?code:text=hemoglobin')).to.deep.equal([hba1c]);
      expect(await s.ids('Observation?code:text=blod')).to.deep.equal([]);
    });
  });

  describe('Identifier (Patient.identifier)', () => {
    it('system|value and bare value', async () => {
      expect(await s.ids(`Patient?identifier=${q(`${FNR}|13097248022`)}`)).to.deep.equal([kari]);
      expect(await s.ids('Patient?identifier=01018010018')).to.deep.equal([ola]);
      expect(await s.ids(`Patient?identifier=${q(`urn:mrn|13097248022`)}`)).to.deep.equal([]);
    });
    it('system| finds everyone with an identifier in the system', async () => {
      expect(await s.ids(`Patient?identifier=${q(`${FNR}|`)}`)).to.deep.equal(sorted(kari, ola));
    });
    it(':of-type matches type-system|type-code|value', async () => {
      expect(await s.ids(`Patient?identifier:of-type=${q(`${V2}|MR|MR-1`)}`)).to.deep.equal([kari]);
      expect(await s.ids(`Patient?identifier:of-type=${q(`${V2}|NI|MR-1`)}`)).to.deep.equal([]);
    });
    it(':of-type without three parts → 400 naming the parameter', async () => {
      const oo = await s.fails(`Patient?identifier:of-type=${q('MR-1')}`, 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['identifier:of-type']);
    });
    it(':missing=true finds patients without any identifier', async () => {
      expect(await s.ids('Patient?identifier:missing=true')).to.deep.equal([anon]);
      expect(await s.ids('Patient?identifier:missing=false')).to.deep.equal(sorted(kari, ola));
    });
  });

  describe('boolean, code, ContactPoint, Coding', () => {
    it('boolean active=true / false; a patient without active matches neither', async () => {
      expect(await s.ids('Patient?active=true')).to.deep.equal([kari]);
      expect(await s.ids('Patient?active=false')).to.deep.equal([ola]);
      expect(await s.ids('Patient?active:missing=true')).to.deep.equal([anon]);
    });
    it('code gender, with OR and :not', async () => {
      expect(await s.ids('Patient?gender=female,unknown')).to.deep.equal(sorted(kari, anon));
      expect(await s.ids('Patient?gender:not=female')).to.deep.equal(sorted(ola, anon));
    });
    it('ContactPoint: telecom by value, phone and email by their own parameters, system|value', async () => {
      expect(await s.ids(`Patient?telecom=${q('+4791234567')}`)).to.deep.equal([kari]);
      expect(await s.ids(`Patient?phone=${q('+4799999999')}`)).to.deep.equal([ola]);
      expect(await s.ids(`Patient?email=${q('kari@example.no')}`)).to.deep.equal([kari]);
      expect(await s.ids(`Patient?telecom=${q('email|kari@example.no')}`)).to.deep.equal([kari]);
      expect(await s.ids(`Patient?telecom=${q('phone|kari@example.no')}`)).to.deep.equal([]);
    });
    it('Coding (meta.tag) with _tag', async () => {
      expect(await s.ids(`Patient?_tag=${q('urn:tags|vip')}`)).to.deep.equal([kari]);
      expect(await s.ids(`Patient?_tag=${q('urn:other|vip')}`)).to.deep.equal([]);
    });
  });

  it('an unsupported token modifier is ignored with a warning (lenient) and 400 under strict', async () => {
    const bundle = await s.search('Patient?gender:in=http://example.org/vs');
    const outcome = (bundle.entry ?? []).find((e) => e.search?.mode === 'outcome');
    expect(outcome?.resource?.resourceType).to.equal('OperationOutcome');
    const strict = await s.fails('Patient?gender:in=http://example.org/vs', 400, { Prefer: 'handling=strict' });
    expect(strict.issue[0]!.expression).to.deep.equal(['gender:in']);
  });
});
