/**
 * Age as the gates need it (access-spec §4.2 G5, G6, G8, G14; §5.2 "Gates use the fødselsnummer or
 * D-number for age; birthDate only for persons without one"). The national identifier is issued by
 * the Folkeregister and cannot be edited by the patient side, while `birthDate` is just a field of a
 * stored resource: taking the age from the identifier first means a wrong or tampered birthDate can
 * never stretch a parent's access past the child's 16th birthday.
 */
import type { Identifier, Patient, RelatedPerson } from 'fhir/r4';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../fhir/validation/fnr.js';

/** The systems of the Norwegian national identifiers: fødselsnummer and D-number. */
export const NATIONAL_ID_SYSTEMS: readonly string[] = [FNR_SYSTEM, DNR_SYSTEM];

export const isNationalId = (i: Identifier): boolean => NATIONAL_ID_SYSTEMS.includes(i.system ?? '') && !!i.value;

/**
 * The birth date a person's fødselsnummer/D-number encodes (day, month, and the century from the
 * individual number, Skatteetaten's ranges; D-number: first digit + 4), else `birthDate`; null
 * when neither is known.
 */
export function birthDateOf(r: Pick<Patient | RelatedPerson, 'identifier' | 'birthDate'>): string | null {
  for (const id of r.identifier ?? []) {
    const parsed = isNationalId(id) ? parseIdNumber(id.value!) : null;
    if (parsed) return parsed.birthDate;
  }
  return r.birthDate && r.birthDate.length === 10 ? r.birthDate : null;
}

/** Whole years between a birth date (YYYY-MM-DD) and today in Europe/Oslo. */
export function ageInYears(birthDate: string, now = new Date()): number {
  const [ty, tm, td] = osloDate(now).split('-').map(Number) as [number, number, number];
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

/** Made once: constructing an Intl.DateTimeFormat costs far more than formatting with it (it ran on every request). */
const OSLO_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Oslo', year: 'numeric', month: '2-digit', day: '2-digit' });

let lastDay = { minute: NaN, day: '' };

/**
 * The calendar date in Europe/Oslo (YYYY-MM-DD): ages and grant periods turn at Oslo midnight.
 * Remembered per UTC minute: Oslo's offsets are whole hours, so its midnight always falls on a
 * minute boundary and no minute spans two Oslo dates.
 */
export function osloDate(now: Date): string {
  const minute = Math.floor(now.getTime() / 60_000);
  if (minute !== lastDay.minute) lastDay = { minute, day: OSLO_DAY.format(now) };
  return lastDay.day;
}
