/**
 * Invariants implemented in code, by constraint key. A profile's constraint with one of these keys
 * is evaluated here instead of through its FHIRPath expression: faster on every write, and the
 * issue can point at the element inside the context (`…identifier[0].value`). `hb-nid-1` keeps a
 * portable FHIRPath expression in the profile (test/validation proves the two agree); `hb-nid-2`
 * has no FHIRPath equivalent (calendar dates), so its profile constraint carries only its text.
 */
import type { IssueCode } from '../errors.js';
import { DNR_SYSTEM, FNR_SYSTEM, hasValidCheckDigits, parseIdNumber } from './fnr.js';

export interface RuleFailure {
  code: IssueCode;
  diagnostics: string;
  /** Where inside the context element, e.g. `.value`. */
  at: string;
}

/** Returns null when the value satisfies the rule. */
export type NamedRule = (value: unknown) => RuleFailure | null;

const NAMES: Record<string, string> = { [FNR_SYSTEM]: 'fødselsnummer', [DNR_SYSTEM]: 'D-nummer' };

interface IdentifierLike {
  system?: unknown;
  value?: unknown;
}

function nationalId(value: unknown): { system: string; value: unknown } | null {
  if (!value || typeof value !== 'object') return null;
  const { system, value: v } = value as IdentifierLike;
  return typeof system === 'string' && system in NAMES ? { system, value: v } : null;
}

/** hb-nid-1: HL7 Norway no-basis identifiers; Skatteetaten's mod-11 check digits (k1, k2). */
const checkDigits: NamedRule = (value) => {
  const id = nationalId(value);
  if (!id) return null;
  const name = NAMES[id.system]!;
  if (typeof id.value !== 'string') return { code: 'required', diagnostics: `a ${name} identifier needs a value`, at: '.value' };
  if (!hasValidCheckDigits(id.value)) {
    return { code: 'value', diagnostics: `"${id.value}" is not a valid ${name}: it must be 11 digits with valid mod-11 check digits`, at: '.value' };
  }
  return null;
};

/**
 * hb-nid-2: the digits encode a real birth date (D-nummer: day + 40; synthetic test numbers:
 * month + 40 or + 80), and a D-nummer is not filed under the fødselsnummer system or vice versa.
 * Numbers failing hb-nid-1 are left to that rule, so one mistake gives one issue.
 */
const birthDate: NamedRule = (value) => {
  const id = nationalId(value);
  if (!id || typeof id.value !== 'string' || !hasValidCheckDigits(id.value)) return null;
  const parsed = parseIdNumber(id.value);
  const name = NAMES[id.system]!;
  if (!parsed) return { code: 'value', diagnostics: `"${id.value}" is not a valid ${name}: its first six digits are not a date`, at: '.value' };
  const expected = id.system === DNR_SYSTEM ? 'dnr' : 'fnr';
  if (parsed.kind !== expected) {
    return {
      code: 'value',
      diagnostics: `"${id.value}" is a ${NAMES[parsed.kind === 'dnr' ? DNR_SYSTEM : FNR_SYSTEM]} but the system says ${name} (${id.system})`,
      at: '.system',
    };
  }
  return null;
};

export const NAMED_RULES: Readonly<Record<string, NamedRule>> = {
  'hb-nid-1': checkDigits,
  'hb-nid-2': birthDate,
};

/** The national-identifier rules, applied to every Identifier in every resource (not only Patients). */
export const IDENTIFIER_RULES: ReadonlyArray<[string, NamedRule]> = [
  ['hb-nid-1', checkDigits],
  ['hb-nid-2', birthDate],
];
