import { expect } from 'chai';
import type { Encounter, Observation, Organization, Patient, Practitioner } from 'fhir/r4';
import { ofMode, q, sorted, useSearchServer } from './support.js';

const LOINC = 'http://loinc.org';

describe('search: chaining, _has, _include and _revinclude', () => {
  const s = useSearchServer();
  let orgA: string; // "Haukeland"
  let orgB: string; // "Ullevål"
  let kari: string; // managed by A
  let ola: string; // managed by B
  let doc: string;
  let enc: string; // Kari's encounter
  let obsKari: string; // glucose, subject Kari, performer doc, encounter enc
  let obsOla: string; // glucose, subject Ola
  let hrOla: string; // heart rate, subject Ola

  before(async () => {
    orgA = (await s.create<Organization>({ resourceType: 'Organization', name: 'Haukeland universitetssjukehus' })).id;
    orgB = (await s.create<Organization>({ resourceType: 'Organization', name: 'Ullevål sykehus' })).id;
    kari = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Nordmann', given: ['Kari'] }], managingOrganization: { reference: `Organization/${orgA}` } })).id;
    ola = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Hansen', given: ['Ola'] }], managingOrganization: { reference: `Organization/${orgB}` } })).id;
    doc = (await s.create<Practitioner>({ resourceType: 'Practitioner', name: [{ family: 'Lege' }] })).id;
    enc = (await s.create<Encounter>({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${kari}` } })).id;
    const o = (subject: string, code: string, extra: Partial<Observation> = {}): Observation => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code }] }, subject: { reference: `Patient/${subject}` }, ...extra });
    obsKari = (await s.create(o(kari, '2339-0', { performer: [{ reference: `Practitioner/${doc}` }], encounter: { reference: `Encounter/${enc}` } }))).id;
    obsOla = (await s.create(o(ola, '2339-0'))).id;
    hrOla = (await s.create(o(ola, '8867-4'))).id;
  });

  describe('chaining', () => {
    it('one level: subject:Patient.name', async () => {
      expect(await s.ids('Observation?subject:Patient.name=kari')).to.deep.equal([obsKari]);
      expect(await s.ids('Observation?patient.family=hansen')).to.deep.equal(sorted(obsOla, hrOla));
    });
    it('two levels: patient.organization.name, folded', async () => {
      expect(await s.ids(`Observation?patient.organization.name=${q('ulleval')}`)).to.deep.equal(sorted(obsOla, hrOla));
      expect(await s.ids('Observation?subject:Patient.organization.name=haukeland')).to.deep.equal([obsKari]);
    });
    it('chain combined with another parameter (AND) and with OR values', async () => {
      expect(await s.ids(`Observation?patient.family=hansen&code=${q(`${LOINC}|8867-4`)}`)).to.deep.equal([hrOla]);
      expect(await s.ids('Observation?patient.family=hansen,nordmann&code=2339-0')).to.deep.equal(sorted(obsKari, obsOla));
    });
    it('a chain over several target types searches each type that has the parameter', async () => {
      expect(await s.ids('Observation?performer.name=lege')).to.deep.equal([obsKari]);
      expect(await s.ids('Observation?performer:Practitioner.name=lege')).to.deep.equal([obsKari]);
      expect(await s.ids('Observation?performer:Patient.name=lege')).to.deep.equal([]);
    });
    it('a chain to a parameter no target type has → 400 under strict, naming the chain', async () => {
      const oo = await s.fails('Observation?subject:Patient.nosuch=1', 400, { Prefer: 'handling=strict' });
      expect(oo.issue[0]!.expression).to.deep.equal(['subject:Patient.nosuch']);
    });
    it('a chain over an any-type reference without :Type → 400 (ambiguous)', async () => {
      const oo = await s.fails('Observation?focus.name=x', 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['focus.name']);
    });
    it('chaining through a non-reference parameter → 400', async () => {
      const oo = await s.fails('Observation?code.name=x', 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['code.name']);
    });
  });

  describe('_has', () => {
    it('patients with a glucose observation', async () => {
      expect(await s.ids(`Patient?_has:Observation:patient:code=${q(`${LOINC}|2339-0`)}`)).to.deep.equal(sorted(kari, ola));
      expect(await s.ids(`Patient?_has:Observation:patient:code=8867-4`)).to.deep.equal([ola]);
    });
    it('nested: organizations with a patient who has a heart-rate observation', async () => {
      expect(await s.ids('Organization?_has:Patient:organization:_has:Observation:patient:code=8867-4')).to.deep.equal([orgB]);
    });
    it('_has combined with a chain inside and a normal parameter outside', async () => {
      expect(await s.ids(`Patient?_has:Observation:subject:performer:Practitioner.name=lege`)).to.deep.equal([kari]);
      expect(await s.ids('Patient?family=hansen&_has:Observation:patient:code=2339-0')).to.deep.equal([ola]);
    });
    it('a malformed _has → 400 naming it', async () => {
      const oo = await s.fails('Patient?_has:Observation:code=1', 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['_has:Observation:code']);
    });
  });

  describe('_include / _revinclude', () => {
    it('_include adds the referenced patients once, marked include', async () => {
      const b = await s.search(`Observation?code=2339-0&_include=Observation:patient`);
      expect(ofMode(b, 'match').map((e) => e.resource!.id).sort()).to.deep.equal(sorted(obsKari, obsOla));
      expect(ofMode(b, 'include').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort()).to.deep.equal(sorted(`Patient/${kari}`, `Patient/${ola}`));
      expect(b.total).to.equal(2);
    });
    it('_include:iterate follows the included patients to their organizations', async () => {
      const b = await s.search(`Observation?_id=${obsKari}&_include=Observation:patient&_include:iterate=Patient:organization`);
      expect(ofMode(b, 'include').map((e) => e.resource!.id).sort()).to.deep.equal(sorted(kari, orgA));
      const flat = await s.search(`Observation?_id=${obsKari}&_include=Observation:patient&_include=Patient:organization`);
      expect(ofMode(flat, 'include').map((e) => e.resource!.id)).to.deep.equal([kari]);
    });
    it('_include=Observation:* follows every reference parameter', async () => {
      const b = await s.search(`Observation?_id=${obsKari}&_include=${q('Observation:*')}`);
      expect(ofMode(b, 'include').map((e) => e.resource!.id).sort()).to.deep.equal(sorted(kari, doc, enc));
    });
    it('_include with a target type only includes that type', async () => {
      const b = await s.search(`Observation?_id=${obsKari}&_include=Observation:performer:Patient`);
      expect(ofMode(b, 'include')).to.have.length(0);
    });
    it('_revinclude adds the observations pointing at the patients', async () => {
      const b = await s.search(`Patient?_id=${ola}&_revinclude=Observation:subject`);
      expect(ofMode(b, 'match').map((e) => e.resource!.id)).to.deep.equal([ola]);
      expect(ofMode(b, 'include').map((e) => e.resource!.id).sort()).to.deep.equal(sorted(obsOla, hrOla));
    });
    it('_revinclude:iterate then _include: organization ← patient ← observations', async () => {
      const b = await s.search(`Organization?_id=${orgA}&_revinclude=Patient:organization&_revinclude:iterate=Observation:patient`);
      expect(ofMode(b, 'include').map((e) => e.resource!.id).sort()).to.deep.equal(sorted(kari, obsKari));
    });
    it('an unknown include parameter → 400 naming _include', async () => {
      const oo = await s.fails('Observation?_include=Observation:nope', 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['_include']);
    });
  });
});
