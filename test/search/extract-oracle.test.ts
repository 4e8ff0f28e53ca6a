/**
 * The write path's index extraction (src/fhir/search/extract.ts: plans per resource type, plain
 * paths gated on the keys they start from, composites compiled per element path) and the bound
 * index columns (index-writer.ts: PostgreSQL array literals built by hand) must give exactly what
 * the plain reference gives (extract-reference.ts: every expression through fhirpath.js, `pg`
 * serialising the arrays), row for row and in the same order, on every resource of the Synthea
 * bundles (when present), the demo fixtures and hand-made edge cases (issue 11 §4).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Bundle, Resource } from 'fhir/r4';
import { searchParamsFor } from '../../src/fhir/definitions/registry.js';
import { accessCompartmentParams, patientCompartmentsOf } from '../../src/fhir/search/compartments.js';
import { extractIndexRows, storedIndexRows } from '../../src/fhir/search/extract.js';
import { unionDefinitions } from '../../src/fhir/search/row-sources.js';
import { ArrayLiteral, indexInsertCtes } from '../../src/fhir/search/index-writer.js';
import { normalizeString } from '../../src/fhir/search/normalize.js';
import { referenceColumns, referenceCompartments, referenceIndexRows } from './extract-reference.js';
import { SYNTHEA_DIR, syntheaFiles } from './synthea-oracle.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures');
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): string };

const EDGE: Resource[] = [
  // A blood pressure: composites over two components, the root element without a value.
  { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure' }], text: 'BP' }, subject: { reference: 'Patient/p1' },
    effectivePeriod: { start: '2024-01-01T10:00:00+01:00' }, component: [
      { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { text: 'note' }, valueString: 'Øyvind målte "høyt" \\ C:\\path' },
    ] } as Resource,
  // A composite whose components all exist but one makes no row (a CodeableConcept with only an extension).
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueCodeableConcept: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] } } as Resource,
  { resourceType: 'Observation', status: 'final', code: { coding: [{ code: 'a' }, { code: 'a' }] }, valueDateTime: '2020-02', issued: '2020-02-03T04:05:06.789Z', _status: { id: 's' } } as unknown as Resource,
  { resourceType: 'Observation', status: 'final', code: { text: 'n' }, valueQuantity: { value: 1e21, unit: 'x' }, effectiveTiming: { event: ['2020-01-01', 'bad', '2020-01-01'] } } as unknown as Resource,
  { resourceType: 'Patient', id: 'p1', name: [{ given: ['Åse', null, 'ÆØÅ'], family: 'Bærum-Ødegård', _given: [null, { id: 'g' }, null] }], birthDate: '1990-13-01', telecom: [{ system: 'email', value: 'a@b' }, { system: 'phone', value: '+47 1' }],
    deceasedBoolean: false, address: [{ line: ['  ', 'Storgata 1'], city: 'TROMSØ' }] } as unknown as Resource,
  { resourceType: 'Patient', _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'unknown' }] }, deceasedDateTime: '2024-01-01' } as unknown as Resource,
  { resourceType: 'Condition', subject: { reference: 'Patient/p1' }, onsetPeriod: { end: '2021' }, abatementString: 'later', code: { text: 'c' } } as Resource,
  { resourceType: 'Provenance', target: [{ reference: 'Observation/1' }, { reference: 'http://other/fhir/Patient/9/_history/2' }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { reference: 'Patient/1' } }, { who: { identifier: { system: 's', value: 'v' } } }] } as Resource,
  { resourceType: 'Encounter', subject: { reference: 'Group/g' }, period: { start: 'not a date' } } as Resource,
];

function corpus(): Resource[] {
  const bundles: Bundle[] = [
    ...syntheaFiles(100).map((f) => JSON.parse(fs.readFileSync(path.join(SYNTHEA_DIR, f), 'utf8')) as Bundle),
    ...fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as Bundle),
  ];
  return [...bundles.flatMap((b) => (b.entry ?? []).map((e) => e.resource!).filter(Boolean)), ...EDGE];
}

describe('index extraction on the write path equals the plain reference', () => {
  const resources = corpus();

  it('gives the same rows, in the same order, for every resource', function () {
    this.timeout(600_000);
    expect(resources.length).to.be.greaterThan(syntheaFiles(1).length > 0 ? 1000 : 50);
    let rows = 0;
    for (const r of resources) {
      const expected = referenceIndexRows(r);
      const actual = extractIndexRows(r);
      expect(JSON.stringify(actual), `${r.resourceType}/${r.id ?? '(edge case)'}`).to.equal(JSON.stringify(expected));
      rows += Object.values(actual).reduce((n, list) => n + list.length, 0);
    }
    expect(rows).to.be.greaterThan(resources.length);
  });

  it('gives the same rows when asked for a few parameters only (the access check’s slices)', function () {
    this.timeout(600_000);
    for (const r of resources.filter((_, i) => i % 7 === 0)) {
      const codes = [...searchParamsFor(r.resourceType).keys()];
      const only = new Set(codes.filter((_, i) => i % 3 === 0));
      expect(JSON.stringify(extractIndexRows(r, only)), `${r.resourceType}/${r.id ?? '(edge case)'}`).to.equal(JSON.stringify(referenceIndexRows(r, only)));
    }
  });

  it('a union parameter’s rows are exactly its sources’ rows, so the stored rows leave it out', function () {
    this.timeout(600_000);
    const unions = unionDefinitions();
    expect(unions.map((u) => `${u.type}.${u.code}`)).to.include('Observation.combo-code');
    const keyOf = (row: object, code: string) => JSON.stringify({ ...row, code });
    let compared = 0;
    for (const r of resources) {
      const all = referenceIndexRows(r);
      for (const u of unions.filter((x) => x.type === r.resourceType)) {
        // Rows are matched as sets per table; `code` and `code:of-type` map to the union's name.
        const rename = (code: string, from: string) => (code === from ? u.code : code.startsWith(`${from}:`) ? `${u.code}${code.slice(from.length)}` : null);
        for (const table of Object.keys(all) as Array<keyof typeof all>) {
          const own = new Set((all[table] as Array<{ code: string }>).flatMap((row) => (rename(row.code, u.code) ? [keyOf(row, row.code)] : [])));
          const fromSources = new Set((all[table] as Array<{ code: string }>).flatMap((row) => u.sources.flatMap((src) => { const to = rename(row.code, src); return to ? [keyOf(row, to)] : []; })));
          expect([...fromSources].sort(), `${r.resourceType}/${r.id ?? '(edge case)'} ${u.code} (${table})`).to.deep.equal([...own].sort());
          compared += own.size;
        }
      }
      const unionCodes = new Set(unions.filter((x) => x.type === r.resourceType).map((x) => x.code));
      const expected = Object.fromEntries(Object.entries(all).map(([t, list]) => [t, (list as Array<{ code: string }>).filter((row) => !unionCodes.has(row.code.split(':')[0]!))]));
      expect(JSON.stringify(storedIndexRows(r)), `${r.resourceType}/${r.id ?? '(edge case)'} stored`).to.equal(JSON.stringify(expected));
    }
    expect(compared).to.be.greaterThan(50);
  });

  it('binds the index columns exactly as pg serialises the row arrays', function () {
    this.timeout(600_000);
    for (let i = 0; i < resources.length; i += 2) {
      const batch = resources.slice(i, i + 2).map((r, k) => ({ type: r.resourceType, id: r.id ?? `edge-${i + k}`, seq: 1000 + i + k, rows: extractIndexRows(r) }));
      const many: unknown[] = [];
      indexInsertCtes(batch, many);
      expect(many, `resources ${i}…${i + 1}`).to.deep.equal(referenceColumns(batch, true));
      const one: unknown[] = [];
      indexInsertCtes(batch.slice(0, 1), one, '(SELECT seq FROM s)');
      expect(one, `resource ${i}`).to.deep.equal(referenceColumns(batch.slice(0, 1), false));
    }
  });

  it('writes array literals byte for byte as pg does, whatever the characters', () => {
    const odd = ['', ' ', '"', '\\', '\\"', 'a,b', '{x}', 'NULL', 'null', 'Ødegård', '😀', 'tab\there', 'line\nbreak', "it's", '\u0000'.slice(1), 'c:\\dir\\"q"'];
    const values: Array<string | number | null> = [...odd, null, 0, -0, 1.5, 1e21, 120, -2147483648, Number.MAX_SAFE_INTEGER];
    const literal = new ArrayLiteral();
    for (const v of values) literal.add(v);
    expect(literal.text()).to.equal(prepareValue(values));
    expect(new ArrayLiteral().text()).to.equal(prepareValue([]));
  });

  it('puts every resource in the same Patient compartments', function () {
    this.timeout(600_000);
    let members = 0;
    for (const r of resources) {
      const expected = referenceCompartments(r, accessCompartmentParams(r.resourceType));
      expect(patientCompartmentsOf(r), `${r.resourceType}/${r.id ?? '(edge case)'}`).to.deep.equal(expected);
      members += expected.length;
    }
    // Synthea refers by `urn:uuid:` (no membership); the fixtures and edge cases by `Patient/id`.
    expect(members).to.be.greaterThan(10);
  });

  it('folds strings as before: ASCII shortcut and the Norwegian letters', () => {
    expect(normalizeString('  Heart Rate ')).to.equal('heart rate');
    expect(normalizeString('heart rate')).to.equal('heart rate');
    expect(normalizeString('Ødegård')).to.equal('odegard');
    expect(normalizeString('BÆRUM')).to.equal('baerum');
    expect(normalizeString('José\t')).to.equal('jose');
  });
});
