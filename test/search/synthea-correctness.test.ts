/**
 * Search answers over real-world-shaped data (the Synthea R4 bundles) against an independent oracle
 * (./synthea-oracle.ts walks the loaded JSON; it shares no code with the engine). Every expected set
 * is computed from the data and checked to be selective, so no check passes vacuously.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Condition, Encounter, Observation, Patient, Resource } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';
import {
  dateMatches, elementRange, entriesOf, expectSameSet, expectSelective, fold, hasCoding, key, loadBundles, ofType, refKey, searchKeys,
  searchPages, syntheaFiles, type Loaded,
} from './synthea-oracle.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const WEIGHT = '29463-7';
const HEIGHT = '8302-2';
const SYNTHEA_ID = 'https://github.com/synthetichealth/synthea';

describe('search over the Synthea R4 bundles, checked against an independent oracle', function () {
  this.timeout(600_000);
  const files = syntheaFiles(15); // all ten shared bundles load in ~15 s
  let ctx: TestContext;
  let data: Loaded;
  let observations: Observation[];
  let patients: Patient[];
  const keysWhere = <T extends Resource>(list: T[], pred: (r: T) => boolean) => new Set(list.filter(pred).map(key));

  before(async function () {
    if (files.length === 0) this.skip(); // the shared Synthea folder is not on this machine
    ctx = await createTestContext({ bodyLimit: 200 * 1024 * 1024 });
    data = await loadBundles(ctx.app, files);
    observations = ofType<Observation>(data.all, 'Observation');
    patients = ofType<Patient>(data.all, 'Patient');
  });
  after(async () => {
    await ctx?.close();
  });

  describe('token', () => {
    it('code=system|code, code without system and a wrong system → exactly the coded Observations', async () => {
      const expected = keysWhere(observations, (o) => hasCoding(o.code, `${LOINC}|${WEIGHT}`));
      expectSelective(expected, observations.length, 'weight');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?code=${LOINC}|${WEIGHT}&_count=200`), expected, 'code=loinc|weight');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?code=${WEIGHT}&_count=200`), expected, 'code=weight (any system)');
      const wrong = keysWhere(observations, (o) => hasCoding(o.code, `http://snomed.info/sct|${WEIGHT}`));
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?code=http://snomed.info/sct|${WEIGHT}`), wrong, 'code=snomed|weight');
    });

    it('comma-separated values, with and without system → the union', async () => {
      const expected = keysWhere(observations, (o) => hasCoding(o.code, `${LOINC}|${WEIGHT}`) || hasCoding(o.code, HEIGHT));
      expectSelective(expected, observations.length, 'weight or height');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?code=${LOINC}|${WEIGHT},${HEIGHT}&_count=500`), expected, 'code=a,b');
    });

    it('Condition clinical-status on a CodeableConcept, bare code and system|code', async () => {
      const conditions = ofType<Condition>(data.all, 'Condition');
      const active = keysWhere(conditions, (c) => hasCoding(c.clinicalStatus, 'active'));
      const resolved = keysWhere(conditions, (c) => hasCoding(c.clinicalStatus, 'http://terminology.hl7.org/CodeSystem/condition-clinical|resolved'));
      expectSelective(active, conditions.length, 'active');
      expectSelective(resolved, conditions.length, 'resolved');
      expectSameSet(await searchKeys(ctx.app, '/fhir/Condition?clinical-status=active&_count=500'), active, 'clinical-status=active');
      expectSameSet(
        await searchKeys(ctx.app, '/fhir/Condition?clinical-status=http://terminology.hl7.org/CodeSystem/condition-clinical|resolved&_count=500'),
        resolved,
        'clinical-status=system|resolved',
      );
    });
  });

  describe('date and quantity', () => {
    it('Observation date ge (year) and lt (day) → the ones in between', async () => {
      const expected = keysWhere(observations, (o) => {
        const range = elementRange(o as unknown as Record<string, unknown>, 'effective');
        return dateMatches(range, 'ge2015') && dateMatches(range, 'lt2017-06-15');
      });
      expectSelective(expected, observations.length, 'date window');
      expectSameSet(await searchKeys(ctx.app, '/fhir/Observation?date=ge2015&date=lt2017-06-15&_count=1000'), expected, 'date=ge2015&date=lt2017-06-15');
      // eq at month precision, on a month taken from the data so that something falls in it.
      const month = observations.map((o) => o.effectiveDateTime).filter(Boolean).sort()[Math.floor(observations.length / 2)]!.slice(0, 7);
      const inMonth = keysWhere(observations, (o) => dateMatches(elementRange(o as unknown as Record<string, unknown>, 'effective'), month));
      expectSelective(inMonth, observations.length, `date=${month}`);
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?date=${month}&_count=1000`), inMonth, `date=${month} (eq, month precision)`);
    });

    it('Encounter date over Periods with day and month precision', async () => {
      const encounters = ofType<Encounter>(data.all, 'Encounter');
      const expected = keysWhere(encounters, (e) => {
        const range = elementRange(e as unknown as Record<string, unknown>, 'period');
        return dateMatches(range, 'ge2016-03-01') && dateMatches(range, 'lt2018-01');
      });
      expectSelective(expected, encounters.length, 'encounter window');
      expectSameSet(await searchKeys(ctx.app, '/fhir/Encounter?date=ge2016-03-01&date=lt2018-01&_count=1000'), expected, 'Encounter date window');
    });

    it('value-quantity gt / lt with UCUM system|code', async () => {
      const quantity = (o: Observation, code: string) => (o.valueQuantity?.system === UCUM && o.valueQuantity.code === code ? o.valueQuantity.value : undefined);
      const heavy = keysWhere(observations, (o) => (quantity(o, 'kg') ?? -Infinity) > 80);
      const light = keysWhere(observations, (o) => (quantity(o, 'kg') ?? Infinity) < 30.5);
      const tall = keysWhere(observations, (o) => (quantity(o, 'cm') ?? -Infinity) > 170);
      for (const [set, name] of [[heavy, 'heavy'], [light, 'light'], [tall, 'tall']] as const) expectSelective(set, observations.length, name);
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?value-quantity=gt80|${UCUM}|kg&_count=500`), heavy, 'value-quantity=gt80 kg');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?value-quantity=lt30.5|${UCUM}|kg&_count=500`), light, 'value-quantity=lt30.5 kg');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?value-quantity=gt170|${UCUM}|cm&_count=500`), tall, 'value-quantity=gt170 cm');
    });
  });

  describe('sorting and paging', () => {
    const byDate = (desc: boolean) => (a: Observation, b: Observation) => {
      const ra = elementRange(a as unknown as Record<string, unknown>, 'effective')!;
      const rb = elementRange(b as unknown as Record<string, unknown>, 'effective')!;
      // Ascending sorts on the start of the range, descending on its end (search.html#_sort).
      const d = desc ? rb[1] - ra[1] : ra[0] - rb[0];
      return d !== 0 ? d : a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0;
    };
    const weights = () => observations.filter((o) => hasCoding(o.code, `${LOINC}|${WEIGHT}`));

    it('_sort=date,_id across pages → ascending dates, ties by id', async () => {
      const expected = weights().sort(byDate(false)).map(key);
      const got = await searchKeys(ctx.app, `/fhir/Observation?code=${LOINC}|${WEIGHT}&_sort=date,_id&_count=13`);
      expect(got).to.deep.equal(expected);
      // Without a count the page query takes its other shape (no collect-first subquery, execute.ts).
      const uncounted = await searchKeys(ctx.app, `/fhir/Observation?code=${LOINC}|${WEIGHT}&_sort=date,_id&_count=13&_total=none`);
      expect(uncounted).to.deep.equal(expected);
    });

    it('_sort=-date,_id across pages → descending dates', async () => {
      const expected = weights().sort(byDate(true)).map(key);
      const got = await searchKeys(ctx.app, `/fhir/Observation?code=${LOINC}|${WEIGHT}&_sort=-date,_id&_count=13`);
      expect(got).to.deep.equal(expected);
    });

    it('_count=7 followed to the end → full pages, no duplicates, the union is the answer', async () => {
      const expected = keysWhere(observations, (o) => hasCoding(o.code, `${LOINC}|${HEIGHT}`));
      const pages = await searchPages(ctx.app, `/fhir/Observation?code=${LOINC}|${HEIGHT}&_count=7`);
      const got = entriesOf(pages, 'match').map(key);
      expect(got.length - new Set(got).size, 'duplicates across pages').to.equal(0);
      expectSameSet(got, expected, 'paged union');
      expect(pages.length).to.equal(Math.ceil(expected.size / 7));
      for (const p of pages.slice(0, -1)) expect(p.entry).to.have.length(7);
      expect(pages[0]!.total).to.equal(expected.size);
    });
  });

  describe('includes', () => {
    it('_include=Observation:subject → exactly the Patients the page references, on every page', async () => {
      const pages = await searchPages(ctx.app, `/fhir/Observation?code=${LOINC}|${HEIGHT}&_include=Observation:subject&_count=10`);
      for (const [n, page] of pages.entries()) {
        const matches = entriesOf([page], 'match') as Observation[];
        const expected = new Set(matches.map((o) => refKey(o.subject)!));
        expectSameSet(entriesOf([page], 'include').map(key), expected, `page ${n} includes`);
      }
    });

    it('_revinclude=Encounter:subject → exactly the Encounters of the page\'s Patients', async () => {
      const encounters = ofType<Encounter>(data.all, 'Encounter');
      const pages = await searchPages(ctx.app, '/fhir/Patient?_revinclude=Encounter:subject&_count=3');
      expectSameSet(entriesOf(pages, 'match').map(key), patients.map(key), 'patients');
      for (const [n, page] of pages.entries()) {
        const onPage = new Set(entriesOf([page], 'match').map(key));
        const expected = keysWhere(encounters, (e) => onPage.has(refKey(e.subject) ?? ''));
        expectSameSet(entriesOf([page], 'include').map(key), expected, `page ${n} revincludes`);
      }
    });
  });

  describe('chains and _has', () => {
    it('subject:Patient.identifier=system|value → that Patient\'s Observations only', async () => {
      const patient = patients[1]!;
      const ident = patient.identifier!.find((i) => i.system === SYNTHEA_ID)!;
      const expected = keysWhere(observations, (o) => refKey(o.subject) === key(patient));
      expectSelective(expected, observations.length, 'one patient');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Observation?subject:Patient.identifier=${SYNTHEA_ID}|${ident.value}&_count=1000`), expected, 'chain');
    });

    it('_has:Observation:patient:code → the Patients with such an Observation', async () => {
      // A code some but not all patients have, chosen from the data.
      const holders = new Map<string, Set<string>>();
      for (const o of observations) for (const c of o.code.coding ?? []) if (c.system === LOINC) holders.set(c.code!, (holders.get(c.code!) ?? new Set()).add(refKey(o.subject)!));
      const [code, expected] = [...holders.entries()].sort(([a], [b]) => a.localeCompare(b)).find(([, s]) => s.size > 1 && s.size < patients.length)!;
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?_has:Observation:patient:code=${LOINC}|${code}`), expected, `_has code ${code}`);
    });
  });

  describe('string', () => {
    const parts = (p: Patient) => (p.name ?? []).flatMap((n) => [n.text, n.family, ...(n.given ?? []), ...(n.prefix ?? []), ...(n.suffix ?? [])]).filter((s): s is string => !!s);

    it('name=prefix, case-insensitive → Patients with a name part starting so', async () => {
      const prefix = fold(patients[2]!.name![0]!.family!).slice(0, 3).toUpperCase();
      const expected = keysWhere(patients, (p) => parts(p).some((s) => fold(s).startsWith(fold(prefix))));
      expectSelective(expected, patients.length, `name=${prefix}`);
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?name=${encodeURIComponent(prefix)}`), expected, `name=${prefix}`);
    });

    it('family:exact matches case-sensitively; :contains finds the middle of a name', async () => {
      const family = patients[3]!.name![0]!.family!;
      const exact = keysWhere(patients, (p) => (p.name ?? []).some((n) => n.family === family));
      expectSelective(exact, patients.length, 'family:exact');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?family:exact=${encodeURIComponent(family)}`), exact, 'family:exact');
      const lower = family.toLowerCase();
      const exactLower = keysWhere(patients, (p) => (p.name ?? []).some((n) => n.family === lower));
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?family:exact=${encodeURIComponent(lower)}`), exactLower, 'family:exact lower-case');
      const middle = family.slice(1, 4).toLowerCase();
      const contains = keysWhere(patients, (p) => parts(p).some((s) => fold(s).includes(fold(middle))));
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?name:contains=${encodeURIComponent(middle)}`), contains, `name:contains=${middle}`);
    });
  });

  describe('_lastUpdated and _elements', () => {
    it('_lastUpdated=ge a time before / between loads → everything / the later half', async () => {
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?_lastUpdated=ge${data.before}`), patients.map(key), 'ge before');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?_lastUpdated=lt${data.before}`), [], 'lt before');
      const later = patients.map(key).filter((k) => data.afterMiddle.has(k));
      expectSelective(later, patients.length, 'later half');
      expectSameSet(await searchKeys(ctx.app, `/fhir/Patient?_lastUpdated=ge${data.middle}`), later, 'ge middle');
      const obs = await request(ctx.app).get(`/fhir/Observation?_lastUpdated=ge${data.middle}&_summary=count`);
      expect(obs.body.total).to.equal(observations.filter((o) => data.afterMiddle.has(key(o))).length);
    });

    it('_elements → only the listed and mandatory elements, tagged SUBSETTED', async () => {
      const subsetted = (r: Resource) => (r.meta?.tag ?? []).some((t) => t.code === 'SUBSETTED' && t.system === 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue');
      const pats = entriesOf(await searchPages(ctx.app, '/fhir/Patient?_elements=name,birthDate'), 'match');
      expect(pats).to.have.length(patients.length);
      for (const p of pats) {
        const original = patients.find((o) => o.id === p.id)!;
        expect(Object.keys(p).sort()).to.deep.equal(['birthDate', 'id', 'meta', 'name', 'resourceType'].filter((k) => k in p || k in original).sort());
        expect((p as Patient).name).to.deep.equal(original.name);
        expect(subsetted(p), 'SUBSETTED tag').to.equal(true);
      }
      // Observation.status and .code are 1..1: servers SHOULD return mandatory elements (search.html#elements).
      const page = await request(ctx.app).get(`/fhir/Observation?code=${LOINC}|${WEIGHT}&_elements=subject,value&_count=5`);
      const obs = entriesOf([page.body as Bundle], 'match');
      expect(obs).to.have.length(5);
      for (const o of obs) {
        expect(Object.keys(o).sort()).to.deep.equal(['code', 'id', 'meta', 'resourceType', 'status', 'subject', 'valueQuantity']);
        expect(subsetted(o), 'SUBSETTED tag').to.equal(true);
      }
    });
  });
});
