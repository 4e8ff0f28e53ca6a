/**
 * String normalisation for search: case- and accent-insensitive, with the Norwegian letters folded
 * the way people type them without a Norwegian keyboard ("odegard" finds "Ødegård",
 * "baerum" finds "Bærum"). Applied to index rows at write time and to search values alike.
 */
const SPECIAL: Record<string, string> = { ø: 'o', æ: 'ae', å: 'a', ß: 'ss', œ: 'oe', đ: 'd', ł: 'l', þ: 'th' };

/** Printable ASCII without upper case: already normal except for surrounding spaces. */
const LOWER_ASCII = /^[\x20-\x40\x5b-\x7e]*$/;
/** Any ASCII: lower-casing is all normalisation does (no accents, no folded letters). */
const NON_ASCII = /[^\u0000-\u007f]/; // eslint-disable-line no-control-regex -- the range is all of ASCII

export function normalizeString(value: string): string {
  // Most index strings (codes' displays, names) are ASCII, which NFD and the folding leave alone.
  if (LOWER_ASCII.test(value)) return value.trim();
  if (!NON_ASCII.test(value)) return value.toLowerCase().trim();
  return value
    .toLowerCase()
    .replace(/[øæåßœđłþ]/g, (c) => SPECIAL[c]!)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim();
}

/**
 * `dateRange` as the index stores it (ISO strings), with a small memo: a Bundle's resources share
 * dates (an encounter's, a day's readings), and each costs a regular expression and two dates.
 */
const isoMemo = new Map<string, { low: string; high: string } | null>();

export function dateRangeIso(value: string): { low: string; high: string } | null {
  let range = isoMemo.get(value);
  if (range === undefined) {
    const r = dateRange(value);
    range = r ? { low: r.low.toISOString(), high: r.high.toISOString() } : null;
    if (isoMemo.size >= 4096) isoMemo.clear();
    isoMemo.set(value, range);
  }
  return range;
}

/** Date ranges: a FHIR date/dateTime/instant string covers [low, high). */
export function dateRange(value: string): { low: Date; high: Date } | null {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  // Dates without a time zone are read as UTC (documented in the README).
  const offsetMs = tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000 : 0;
  if (mo === undefined) return { low: utc(offsetMs, year, 0, 1), high: utc(offsetMs, year + 1, 0, 1) };
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) return null;
  if (d === undefined) return { low: utc(offsetMs, year, month, 1), high: utc(offsetMs, year, month + 1, 1) };
  const day = Number(d);
  // Real calendar days only: 2024-02-30 is not a date (Date.UTC would roll it into March).
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  if (h === undefined) return { low: utc(offsetMs, year, month, day), high: utc(offsetMs, year, month, day + 1) };
  const hour = Number(h);
  const minute = Number(mi);
  if (hour > 23 || minute > 59 || (s !== undefined && Number(s) > 60) || (tz && tz !== 'Z' && Number(tz.slice(1, 3)) > 14)) return null;
  if (s === undefined) return { low: utc(offsetMs, year, month, day, hour, minute), high: utc(offsetMs, year, month, day, hour, minute + 1) };
  const second = Number(s);
  if (frac === undefined) return { low: utc(offsetMs, year, month, day, hour, minute, second), high: utc(offsetMs, year, month, day, hour, minute, second + 1) };
  const ms = Number(frac.slice(0, 3).padEnd(3, '0'));
  return { low: utc(offsetMs, year, month, day, hour, minute, second, ms), high: utc(offsetMs, year, month, day, hour, minute, second, ms + 1) };
}

/** The instant of the calendar fields (Date.UTC's rollover included) in a zone `offsetMs` east of UTC. */
function utc(offsetMs: number, yy: number, mm: number, dd: number, hh = 0, mn = 0, ss = 0, ms = 0): Date {
  return new Date(Date.UTC(yy, mm, dd, hh, mn, ss, ms) - offsetMs);
}
