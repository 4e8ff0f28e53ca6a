/**
 * ajv errors → OperationOutcome issues a person can act on: one issue per problem, located with a
 * FHIRPath-like expression (`Patient.identifier[0].value`), worded in FHIR terms (element, datatype,
 * code) instead of JSON Schema terms. IssueType codes: https://hl7.org/fhir/R4/valueset-issue-type.html
 */
import type { ErrorObject } from 'ajv';
import type { Issue, IssueCode } from '../errors.js';

/** An OperationOutcome with thousands of issues helps nobody; the rest are counted (applied once, in validate.ts). */
export const MAX_ISSUES = 100;

const FORMATS: Record<string, string> = {
  date: 'YYYY, YYYY-MM or YYYY-MM-DD',
  dateTime: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or ±hh:mm)',
  instant: 'YYYY-MM-DDThh:mm:ss[.sss] with a time zone (Z or ±hh:mm)',
  time: 'hh:mm:ss',
  id: '1–64 characters A–Z, a–z, 0–9, "-" and "."',
  oid: 'urn:oid:1.2.3…',
  uuid: 'urn:uuid: followed by a lower-case UUID',
  code: 'no leading, trailing or repeated whitespace',
  uri: 'no whitespace',
  url: 'no whitespace',
  canonical: 'no whitespace',
};

/** JSON pointer (`/identifier/0/value`) → FHIRPath-like expression (`Patient.identifier[0].value`). */
export function pointerToExpression(root: string, pointer: string): string {
  let path = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return path;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
  array: 'an array (the element repeats)',
  object: 'an object',
  string: 'a string',
  boolean: 'true or false',
  number: 'a number',
  integer: 'a whole number',
};

function fhirTypeOf(e: ErrorObject): string | undefined {
  const t = (e.parentSchema as { fhirType?: unknown } | undefined)?.fhirType;
  return typeof t === 'string' ? t : undefined;
}

function describe(e: ErrorObject): { code: IssueCode; text: string; suffix?: string } | null {
  const p = e.params as Record<string, unknown>;
  const fhirType = fhirTypeOf(e);
  switch (e.keyword) {
    case 'additionalProperties':
      return { code: 'structure', text: 'unknown element (not defined for this type in FHIR R4)', suffix: String(p.additionalProperty) };
    case 'required':
      return { code: 'required', text: 'required element is missing', suffix: String(p.missingProperty) };
    case 'type': {
      const expected = String(p.type).split(',').map((t) => EXPECTED[t] ?? t).join(' or ');
      return { code: 'structure', text: `must be ${expected}, found ${jsonKind(e.data)}` };
    }
    case 'enum':
      return { code: 'code-invalid', text: `${show(e.data)} is not one of the allowed codes: ${((p.allowedValues as unknown[]) ?? []).join(', ')}` };
    case 'const':
      return { code: 'value', text: `must be ${show(p.allowedValue)}, found ${show(e.data)}` };
    case 'pattern':
      return { code: 'value', text: `${show(e.data)} is not a valid ${fhirType ?? 'value'}${fhirType && FORMATS[fhirType] ? ` (${FORMATS[fhirType]})` : ''}` };
    case 'minLength':
      return { code: 'value', text: 'must not be empty (leave the element out instead)' };
    case 'maxLength':
      return { code: 'too-long', text: `is ${(e.data as string).length.toLocaleString('en')} characters long; FHIR limits a ${fhirType ?? 'string'} to 1 MB (${Number(p.limit).toLocaleString('en')} characters)` };
    case 'minItems':
      return { code: 'structure', text: 'arrays must not be empty: leave the element out instead (ele-1)' };
    case 'minProperties':
      return { code: 'structure', text: 'an element must have a value or children (ele-1): leave the empty object out' };
    case 'fhirBase64':
      return { code: 'value', text: `${show(e.data)} is not valid base64 (base64Binary: groups of four characters A–Z, a–z, 0–9, "+", "/", padded with "=")` };
    case 'minimum':
    case 'maximum':
      return { code: 'value', text: `${show(e.data)} is out of range for ${fhirType ?? 'this element'} (${e.keyword} ${String(p.limit)})` };
    case 'fhirResource':
      return p.resourceType === undefined
        ? { code: 'required', text: 'a resource must have a resourceType' }
        : { code: 'not-supported', text: `${show(p.resourceType)} is not a FHIR R4 resource type` };
    case 'if':
    case 'anyOf':
    case 'oneOf':
      return null; // the branch errors say what is wrong; these only repeat that a branch failed
    default:
      return { code: 'invalid', text: e.message ?? e.keyword };
  }
}

export function issuesFromSchemaErrors(root: string, errors: ErrorObject[]): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const d = describe(e);
    if (!d) continue;
    const expression = pointerToExpression(root, e.instancePath) + (d.suffix ? `.${d.suffix}` : '');
    const key = `${expression}\u0000${d.text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ severity: 'error', code: d.code, diagnostics: `${expression}: ${d.text}`, expression: [expression] });
  }
  return issues;
}

export function capIssues(issues: Issue[]): Issue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const rest = issues.length - MAX_ISSUES;
  return [...issues.slice(0, MAX_ISSUES), { severity: 'information', code: 'informational', diagnostics: `${rest} more issue(s) not listed` }];
}
