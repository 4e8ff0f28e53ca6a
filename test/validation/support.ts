/** Shared helpers of the validation tests. */
import type { Issue } from '../../src/fhir/errors.js';

export const errorsOf = (issues: Issue[]) => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

/** The issues whose expression is exactly `expression`. */
export const at = (issues: Issue[], expression: string) => issues.filter((i) => i.expression?.includes(expression));

export const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
export const DNR = 'urn:oid:2.16.578.1.12.4.1.4.2';
export const HB = 'https://fhir.helsebro.no/';
