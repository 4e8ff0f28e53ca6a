/**
 * Norwegian national identity numbers: fødselsnummer (FNR) and D-nummer (DNR), a thin wrapper
 * over NAV's maintained `@navikt/fnrvalidator` (which also knows H-numbers and synthetic numbers).
 * Eleven digits `ddmmyyiiik1k2`. D-numbers add 40 to the day; H-numbers (and NAV's older synthetic
 * numbers) add 40 to the month; synthetic test numbers of Skatteetaten's Tenor test population (ID-porten
 * TestID, access-spec §2 item 5) add 80 to the month.
 * The library decides the kind of number and whether its date and check digits are valid; this
 * wrapper adds the birth date with its century (Skatteetaten's individual-number ranges) and keeps
 * the check-digit rule of today's numbers, the one the profile's portable FHIRPath (hb-nid-1)
 * states: the library already accepts the four k1 variants of numbers issued from 2032, which
 * both would then have to follow.
 * See: https://www.skatteetaten.no/person/folkeregister/fodsel-og-navnevalg/barn-fodt-i-norge/fodselsnummer/
 */
import { idnr } from '@navikt/fnrvalidator';

export const FNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.1';
export const DNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.2';

const K1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

function checkDigit(digits: number[], weights: number[]): number | null {
  const sum = weights.reduce((acc, w, i) => acc + w * digits[i]!, 0);
  const k = 11 - (sum % 11);
  if (k === 11) return 0;
  if (k === 10) return null; // no valid number exists with these first digits
  return k;
}

/** True when both mod-11 check digits of an 11-digit number are right. */
export function hasValidCheckDigits(value: string): boolean {
  if (!/^\d{11}$/.test(value)) return false;
  const d = [...value].map(Number);
  const k1 = checkDigit(d, K1);
  if (k1 === null || k1 !== d[9]) return false;
  const k2 = checkDigit(d, K2);
  return k2 !== null && k2 === d[10];
}

/** The kinds `@navikt/fnrvalidator` tells apart (tnr: Tenor synthetic, month + 80). */
export type IdNumberType = 'fnr' | 'dnr' | 'hnr' | 'tnr' | 'dnr-and-hnr' | 'dnr-and-tnr';

export interface ParsedIdNumber {
  /** D-nummer when the day carries + 40, fødselsnummer otherwise (H- and synthetic numbers included). */
  kind: 'fnr' | 'dnr';
  /** Month + 40 (H-number range, NAV's synthetic numbers) or + 80 (Tenor test numbers). */
  synthetic: boolean;
  /** The library's classification. */
  type: IdNumberType;
  /** Birth date as YYYY-MM-DD. */
  birthDate: string;
}

/**
 * Parses an FNR or DNR with valid check digits and a real calendar date; null otherwise.
 * The century comes from the individual number (Skatteetaten's ranges).
 */
export function parseIdNumber(value: string): ParsedIdNumber | null {
  if (!hasValidCheckDigits(value)) return null;
  const verdict = idnr(value);
  if (verdict.status !== 'valid') return null;
  let day = Number(value.slice(0, 2));
  let month = Number(value.slice(2, 4));
  const yy = Number(value.slice(4, 6));
  const individual = Number(value.slice(6, 9));
  const kind = day > 40 ? 'dnr' : 'fnr';
  if (kind === 'dnr') day -= 40;
  const synthetic = month > 80 || (month > 40 && month <= 52);
  if (month > 80) month -= 80;
  else if (month > 40) month -= 40; // NAV's synthetic numbers (+40) are accepted too
  const year = centuryOf(individual, yy) + yy;
  if (!isCalendarDate(year, month, day)) return null;
  return { kind, synthetic, type: verdict.type, birthDate: `${year}-${pad(month)}-${pad(day)}` };
}

function centuryOf(individual: number, yy: number): number {
  if (individual <= 499) return 1900;
  if (individual <= 749 && yy >= 54) return 1800;
  if (individual >= 900 && yy >= 40) return 1900;
  return 2000;
}

function isCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Makes a synthetic fødselsnummer (month + 80) for a birth date; `seq` picks the individual number,
 * so tests and fixtures get distinct, deterministic numbers. Skips individual numbers for which no
 * valid check digit exists.
 */
export function syntheticFnr(birthDate: string, seq = 0, dnr = false): string {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const lowIndividual = y >= 2000 ? 500 : 0; // 2000–2039 use 500–999
  for (let i = 0; i < 500; i++) {
    const individual = lowIndividual + ((seq * 7 + i) % 500);
    const head = `${pad(dnr ? d + 40 : d)}${pad(m + 80)}${pad(y % 100)}${String(individual).padStart(3, '0')}`;
    const digits = [...head].map(Number);
    const k1 = checkDigit(digits, K1);
    if (k1 === null) continue;
    const k2 = checkDigit([...digits, k1], K2);
    if (k2 === null) continue;
    return `${head}${k1}${k2}`;
  }
  throw new Error(`no synthetic number possible for ${birthDate}`);
}
