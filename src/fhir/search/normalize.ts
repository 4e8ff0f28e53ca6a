/**
 * String normalisation for search: case- and accent-insensitive, with the Norwegian letters folded
 * the way people type them without a Norwegian keyboard ("odegard" finds "Ødegård",
 * "baerum" finds "Bærum"). Applied to index rows at write time and to search values alike.
 */
const SPECIAL: Record<string, string> = { ø: 'o', æ: 'ae', å: 'a', ß: 'ss', œ: 'oe', đ: 'd', ł: 'l', þ: 'th' };

export function normalizeString(value: string): string {
  return value
    .toLowerCase()
    .replace(/[øæåßœđłþ]/g, (c) => SPECIAL[c]!)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim();
}

/** Date ranges: a FHIR date/dateTime/instant string covers [low, high). */
export function dateRange(value: string): { low: Date; high: Date } | null {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  // Dates without a time zone are read as UTC (documented in the README).
  const offsetMs = tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000 : 0;
  const utc = (yy: number, mm: number, dd: number, hh = 0, mn = 0, ss = 0, ms = 0) => new Date(Date.UTC(yy, mm, dd, hh, mn, ss, ms) - offsetMs);
  if (mo === undefined) return { low: utc(year, 0, 1), high: utc(year + 1, 0, 1) };
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) return null;
  if (d === undefined) return { low: utc(year, month, 1), high: utc(year, month + 1, 1) };
  const day = Number(d);
  // Real calendar days only: 2024-02-30 is not a date (Date.UTC would roll it into March).
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  if (h === undefined) return { low: utc(year, month, day), high: utc(year, month, day + 1) };
  const hour = Number(h);
  const minute = Number(mi);
  if (hour > 23 || minute > 59 || (s !== undefined && Number(s) > 60) || (tz && tz !== 'Z' && Number(tz.slice(1, 3)) > 14)) return null;
  if (s === undefined) return { low: utc(year, month, day, hour, minute), high: utc(year, month, day, hour, minute + 1) };
  const second = Number(s);
  if (frac === undefined) return { low: utc(year, month, day, hour, minute, second), high: utc(year, month, day, hour, minute, second + 1) };
  const ms = Number(frac.slice(0, 3).padEnd(3, '0'));
  return { low: utc(year, month, day, hour, minute, second, ms), high: utc(year, month, day, hour, minute, second, ms + 1) };
}
