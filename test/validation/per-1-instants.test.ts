/**
 * per-1 (`start <= end` of a Period) is decided without FHIRPath for two well-formed instants of the
 * same precision in order (core-invariants.ts, issue 11 §4: every device reading over a span has
 * one). The verdict must be FHIRPath's for every pair: in order, reversed, equal, across zones, of
 * mixed precision, partial, or not a real date.
 */
import { expect } from 'chai';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { Observation } from 'fhir/r4';
import { validateResource } from '../../src/fhir/validation/validate.js';

const PER_1 = 'start.hasValue().not() or end.hasValue().not() or (start <= end)';

const INSTANTS = [
  '2024-03-01T10:00:00Z', '2024-03-01T10:00:00.000Z', '2024-03-01T10:00:00.001Z', '2024-03-01T09:59:59Z', '2024-03-01T10:00:00+01:00',
  '2024-03-01T11:00:00+01:00', '2024-03-01T10:00:00-00:30', '2024-03-01T23:59:59.999+14:00', '2024-02-29T23:59:59Z', '2023-02-29T10:00:00Z',
  '2024-02-30T10:00:00Z', '2024-03-01T24:00:00Z', '2024-03-01', '2024-03', '2024', '2024-03-01T10:00:00+15:00', '0001-01-01T00:00:00Z', '2024-03-01T10:00:00.5Z',
];

/** true: per-1 holds. An expression that cannot be evaluated (not a real date) is an issue too. */
function fhirpathVerdict(start: string, end: string): boolean {
  try {
    const result = fhirpath.evaluate({ start, end }, { base: 'Period', expression: PER_1 }, undefined, r4 as never) as unknown[];
    return !(result.length === 1 && result[0] === false);
  } catch {
    return false;
  }
}

describe('per-1 on instants: the shortcut gives FHIRPath’s verdict', () => {
  it('for every ordered pair of the sample instants', function () {
    this.timeout(60_000);
    let judged = 0;
    for (const start of INSTANTS) {
      for (const end of INSTANTS) {
        const obs: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'steps' }, effectivePeriod: { start, end } };
        const issues = validateResource(obs).filter((i) => /\bper-1\b/.test(i.diagnostics));
        expect(issues.length === 0, `per-1 for ${start} … ${end}`).to.equal(fhirpathVerdict(start, end));
        judged++;
      }
    }
    expect(judged).to.equal(INSTANTS.length ** 2);
  });
});
