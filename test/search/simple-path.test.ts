/**
 * The direct evaluator of plain SearchParameter paths (src/fhir/search/simple-path.ts) must give
 * exactly what fhirpath.js gives, for every parameter of every resource in the Synthea bundles, the
 * demo fixtures and a few hand-made edge cases (choice types, `as` over several items — cast item by
 * item, as `ofType` — unions with
 * duplicates, primitives with only an extension, a path of another type).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { Bundle, Resource } from 'fhir/r4';
import { searchParamsFor } from '../../src/fhir/definitions/registry.js';
import { compiledComposite, perItemCasts, stripResolve } from '../../src/fhir/search/expressions.js';
import { extractIndexRows } from '../../src/fhir/search/extract.js';
import { compileSimplePath } from '../../src/fhir/search/simple-path.js';
import { SYNTHEA_DIR, syntheaFiles } from './synthea-oracle.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures');

function corpus(): Resource[] {
  const bundles: Bundle[] = [
    ...syntheaFiles(10).map((f) => JSON.parse(fs.readFileSync(path.join(SYNTHEA_DIR, f), 'utf8')) as Bundle),
    ...fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as Bundle),
  ];
  const edge: Resource[] = [
    { resourceType: 'Observation', status: 'final', code: { text: 'bp' }, component: [
      { code: { text: 'sys' }, valueQuantity: { value: 120, unit: 'mmHg' } },
      { code: { text: 'dia' }, valueQuantity: { value: 80, unit: 'mmHg' } },
    ] } as Resource,
    { resourceType: 'Observation', status: 'final', code: { text: 'one' }, component: [{ code: { text: 'one' }, valueString: 'x' }], valueQuantity: { value: 1 } } as Resource,
    { resourceType: 'Observation', status: 'final', code: { text: 'p' }, effectivePeriod: { start: '2020-01-01' }, valueDateTime: '2020-02' } as Resource,
    { resourceType: 'Patient', birthDate: '1990-01-01', _birthDate: { extension: [] }, name: [{ given: ['A', null, 'B'], _given: [null, { id: 'x' }, null] }], deceasedDateTime: '2024-01-01' } as unknown as Resource,
    { resourceType: 'Patient', _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'unknown' }] }, deceasedBoolean: false } as unknown as Resource,
    { resourceType: 'Provenance', target: [{ reference: 'Observation/1' }], recorded: '2024-01-01T00:00:00Z', occurredDateTime: '2024-01-01', agent: [{ who: { reference: 'Patient/1' } }] } as Resource,
  ];
  return [...bundles.flatMap((b) => (b.entry ?? []).map((e) => e.resource!).filter(Boolean)), ...edge];
}

const run = (fn: () => unknown[]): { ok: true; value: unknown[] } | { ok: false } => {
  try {
    return { ok: true, value: fn() };
  } catch {
    return { ok: false };
  }
};

describe('plain SearchParameter paths evaluated directly', () => {
  const resources = corpus();

  it('give what fhirpath.js gives, for every parameter of every resource', function () {
    this.timeout(300_000);
    expect(resources.length).to.be.greaterThan(1000);
    let compared = 0;
    const simple = new Map<string, { direct: ReturnType<typeof compileSimplePath>; reference: (r: unknown) => unknown[] } | null>();
    for (const resource of resources) {
      for (const def of searchParamsFor(resource.resourceType).values()) {
        if (!def.expression || def.type === 'composite' || def.type === 'special') continue;
        const key = `${resource.resourceType}.${def.code}`;
        if (!simple.has(key)) {
          const expression = perItemCasts(stripResolve(def.expression).expression);
          const direct = compileSimplePath(expression);
          simple.set(key, direct ? { direct, reference: fhirpath.compile(expression, r4 as never, { resolveInternalTypes: true }) as unknown as (r: unknown) => unknown[] } : null);
        }
        const pair = simple.get(key);
        if (!pair) continue;
        const expected = run(() => pair.reference(resource).filter((v) => v !== null && v !== undefined));
        const actual = run(() => pair.direct!(resource));
        expect(JSON.stringify(actual), `${key} on ${resource.resourceType}/${resource.id ?? '(edge case)'}`).to.equal(JSON.stringify(expected));
        compared++;
      }
    }
    // Most parameters are plain paths: the direct evaluator is what runs on writes.
    const plain = [...simple.values()].filter(Boolean).length;
    expect(plain, 'parameters evaluated directly').to.be.greaterThan([...simple.values()].length / 2);
    expect(compared).to.be.greaterThan(10_000);
  });

  it('composite parameters: elements and component values as fhirpath.js gives them', function () {
    this.timeout(300_000);
    let compared = 0;
    for (const resource of resources) {
      for (const def of searchParamsFor(resource.resourceType).values()) {
        if (def.type !== 'composite') continue;
        const direct = compiledComposite(resource.resourceType, def.code);
        const reference = compiledComposite(resource.resourceType, def.code, { direct: false });
        const values = (c: typeof direct) => c!.elements(resource).map((e) => ({ path: e.path, data: e.data, components: c!.components.map((k) => k.evaluate(e, resource)) }));
        expect(JSON.stringify(values(direct)), `${resource.resourceType}.${def.code} on ${resource.id ?? '(edge case)'}`).to.equal(JSON.stringify(values(reference)));
        compared++;
      }
    }
    expect(compared).to.be.greaterThan(1000);
  });

  it('index both component values of a blood pressure (a cast item by item, not a failed `as`)', () => {
    const rows = extractIndexRows(resources.find((r) => r.resourceType === 'Observation' && (r as { component?: unknown[] }).component?.length === 2 && !r.id)!);
    // `(Observation.component.value as Quantity)` fails on two items in fhirpath.js; read as ofType it indexes both.
    expect(rows.quantity.filter((q) => q.code === 'component-value-quantity').map((q) => q.value)).to.deep.equal([120, 80]);
    expect(rows.quantity.filter((q) => q.code === 'combo-value-quantity').map((q) => q.value)).to.deep.equal([120, 80]);
    expect(rows.token.filter((t) => t.code === 'component-code').map((t) => t.text)).to.deep.equal(['sys', 'dia']);
  });

  it('refuse what they do not handle, so fhirpath.js evaluates it', () => {
    expect(compileSimplePath("Patient.telecom.where(system='email')")).to.equal(null);
    expect(compileSimplePath('Patient.deceased.exists() and Patient.deceased != false')).to.equal(null);
    expect(compileSimplePath('Observation.value.unit')).to.equal(null); // navigation past a choice
    expect(compileSimplePath('Observation.nosuchelement')).to.equal(null);
    expect(compileSimplePath('(Observation.value as Banana)')).to.equal(null);
    expect(compileSimplePath('Observation.value.ofType(Banana)')).to.equal(null);
    expect(compileSimplePath('(Observation.value as string).text')).to.equal(null); // a primitive has no members
    expect(compileSimplePath('(Observation.value as CodeableConcept).nosuchelement')).to.equal(null);
    expect(compileSimplePath('(Observation.value as CodeableConcept).text')).to.not.equal(null);
  });
});
