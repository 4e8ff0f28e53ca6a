/**
 * Validation rules shared by both bridges (issue 6 §3): unit conversion, plausible ranges, and the
 * time rules (parseable with a time zone, start not after end, nothing from the future). Each rule
 * returns the reason a sample is rejected, worded so the user can see what to fix.
 */
import type { Conversion, Range, Ucum } from './mapping.js';

/** Devices and phones disagree about the time by a little; more than this into the future is an error. */
export const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;

export class Rejection extends Error {}

export function reject(reason: string): never {
  throw new Rejection(reason);
}

export function convert(value: number, conversion: Conversion, decimals: number): number {
  if (conversion.scale === 1 && !conversion.offset) return value;
  const converted = (value + (conversion.offset ?? 0)) * conversion.scale;
  const f = 10 ** decimals;
  return Math.round(converted * f) / f;
}

/** Rejects a value that is negative or outside the row's plausible range (in the target unit). */
export function checkRange(label: string, value: number, range: Range, ucum: Ucum, hint?: string): void {
  if (value < 0) reject(`${label} ${value} ${ucum.code} is negative`);
  if (!inRange(value, range)) {
    const rule = `${range.minExclusive ? '>' : '≥'} ${range.min} and ≤ ${range.max} ${ucum.code}`;
    reject(`${label} ${value} ${ucum.code} is implausible (rule: ${rule})${hint ? `; ${hint}` : ''}`);
  }
}

/** Whether a value that is not negative lies in the plausible range (checkRange without its reasons). */
export function inRange(value: number, range: Range): boolean {
  const tooLow = range.minExclusive ? value <= range.min : value < range.min;
  return !tooLow && value <= range.max;
}

export function requireNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) reject(`${field} must be a number, got ${describe(value)}`);
  return value;
}

export function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') reject(`${field} is required (a non-empty string)`);
  return value;
}

/** A point in time: the FHIR dateTime we store (offset kept as sent) and its epoch milliseconds. */
export interface Instant {
  fhir: string;
  ms: number;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
/** Apple Health's export.xml writes `2023-01-15 08:30:00 +0100`. */
const APPLE_EXPORT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})$/;
/** iOS 8/9 exports write compact dates: `20151107171924+0100`. */
const APPLE_COMPACT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([+-]\d{4})$/;

/**
 * Parses a sample time. A time zone is required: a FHIR dateTime with a time must carry one
 * (https://hl7.org/fhir/R4/datatypes.html#dateTime), and guessing it would shift measurements.
 */
export function parseInstant(raw: unknown, field: string): Instant {
  if (typeof raw !== 'string') reject(`${field} is required (ISO 8601 with a time zone), got ${describe(raw)}`);
  let m = ISO.exec(raw);
  let fhir: string;
  if (m) {
    fhir = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ?? ''}${normalizeZone(m[8]!)}`;
  } else if ((m = APPLE_EXPORT.exec(raw) ?? APPLE_COMPACT.exec(raw))) {
    fhir = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${normalizeZone(m[7]!)}`;
  } else {
    reject(`${field} "${raw.slice(0, 40)}" is not a date-time with a time zone (e.g. 2024-05-01T08:30:00+02:00)`);
  }
  const ms = Date.parse(fhir);
  // Date.parse rolls 2024-02-30 over to March: the calendar fields must name a real day (a pushed
  // sample has thousands of these, so the check is arithmetic, not a second Date). Years below 100
  // are refused as before (Date.UTC would have read them as 19xx).
  const [y, mo, d, h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '00')];
  const valid = Number.isFinite(ms) && y >= 100 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h < 24 && mi < 60 && s < 60;
  if (!valid) reject(`${field} "${raw.slice(0, 40)}" is not a valid date-time`);
  return { fhir, ms };
}

/** Days in month `mo` (1–12) of year `y`, proleptic Gregorian (as Date computes them). */
function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

function normalizeZone(zone: string): string {
  if (zone === 'Z') return 'Z';
  const digits = zone.replace(':', '');
  const normalized = `${digits.slice(0, 3)}:${digits.slice(3)}`;
  return normalized === '+00:00' || normalized === '-00:00' ? 'Z' : normalized;
}

/** Google Fit times are int64 nanoseconds since the epoch (JSON strings in the REST API). */
export function parseNanos(raw: unknown, field: string): { nanos: string; instant: Instant } {
  const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,19}$/.test(text)) reject(`${field} must be an integer number of nanoseconds since 1970, got ${describe(raw)}`);
  const nanos = BigInt(text);
  const ms = Number(nanos / 1_000_000n);
  const subMs = nanos % 1_000_000n;
  const iso = new Date(ms).toISOString(); // …T08:30:00.123Z
  const fhir = subMs === 0n ? iso : `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0').replace(/0+$/, '')}Z`;
  return { nanos: nanos.toString(), instant: { fhir, ms } };
}

/** Start not after end, and the sample has happened (with a small clock-skew tolerance). */
export function checkPeriod(start: Instant, end: Instant, now: Date): void {
  if (start.ms > end.ms) reject(`start ${start.fhir} is after end ${end.fhir}`);
  if (end.ms > now.getTime() + FUTURE_TOLERANCE_MS) reject(`end ${end.fhir} is in the future (rule: samples must have ended by the time they are sent)`);
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `"${value.slice(0, 40)}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
