import { expect } from 'chai';
import fc from 'fast-check';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { StructureDefinition } from 'fhir/r4';
import { conformance } from '../../src/fhir/validation/conformance.js';
import { hasValidCheckDigits, syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { NAMED_RULES } from '../../src/fhir/validation/named-rules.js';
import { FNR } from './support.js';

type Evaluate = (data: unknown) => unknown[];

/** The portable FHIRPath of hb-nid-1 as written in the profile (the server runs the named rule instead). */
function profileExpression(): Evaluate {
  const sd = conformance().files.get('StructureDefinition-HelsebroPatient.json') as StructureDefinition;
  const constraint = sd.differential!.element.find((e) => e.path === 'Patient.identifier')!.constraint!.find((c) => c.key === 'hb-nid-1')!;
  return fhirpath.compile({ base: 'Patient.identifier', expression: constraint.expression! }, r4 as never) as unknown as Evaluate;
}

describe('hb-nid-1: the profile\'s FHIRPath and the server\'s named rule agree', () => {
  const evaluate = profileExpression();
  const fhirpathSays = (value: string) => {
    const r = evaluate({ system: FNR, value });
    return r.length === 1 && r[0] === true;
  };
  const ruleSays = (value: string) => NAMED_RULES['hb-nid-1']!({ system: FNR, value }) === null;

  it('on arbitrary 11-digit strings', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9]{11}$/), (v) => fhirpathSays(v) === ruleSays(v) && ruleSays(v) === hasValidCheckDigits(v)), { numRuns: 300 });
  });

  it('on valid synthetic numbers and on each one-digit corruption of them', () => {
    const birth = fc.date({ min: new Date('1900-01-01'), max: new Date('2039-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    fc.assert(
      fc.property(birth, fc.nat(400), fc.nat(10), (date, seq, pos) => {
        const good = syntheticFnr(date, seq);
        const bad = `${good.slice(0, pos)}${(Number(good[pos]) + 1) % 10}${good.slice(pos + 1)}`;
        return fhirpathSays(good) && ruleSays(good) && fhirpathSays(bad) === ruleSays(bad) && !ruleSays(bad);
      }),
      { numRuns: 150 },
    );
  });

  it('on values that are not 11 digits, and identifiers of other systems', () => {
    for (const v of ['', '1234567890', '123456789012', '1234567890a']) expect(fhirpathSays(v), v).to.equal(false).and.to.equal(ruleSays(v));
    expect(evaluate({ system: 'urn:x', value: 'abc' })).to.deep.equal([true]);
    expect(NAMED_RULES['hb-nid-1']!({ system: 'urn:x', value: 'abc' })).to.equal(null);
  });
});
