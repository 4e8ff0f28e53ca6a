/**
 * Date windows as index range scans (issue 11 §6; docs/search.md "Date ranges"; 011-date-span-class.sql).
 *
 * `date=ge<A>&date=lt<B>` is two conditions, each compiled by `datePredicate` to its own
 * `seq IN (SELECT seq FROM sp_date …)`: the end after A, the start before B. In the middle of the data
 * each holds for half of all rows, so the search read half the index to return a few rows. Here the
 * date parameters of a search are taken together:
 *
 * - The conditions' bounds (`dateBounds`) say the start is below U and the end above L. A row of span
 *   class k spans at most S_k, so its start is above L − S_k: per class the window is the index range
 *   `span_class = k AND low >= L − S_k AND low <= U`, read through `sp_date_window`. The open class (3)
 *   has no span bound and is read by its start's own bounds. Every arm still applies the conditions
 *   exactly as `datePredicate` words them, so the bounds only choose which rows are looked at.
 * - Two parameters may be satisfied by two different values of the same version (R4 search.html:
 *   repeated parameters are ANDed over the resource). One row condition is only the same answer for
 *   versions with one value of the parameter; the versions with more are listed in `sp_date_multi`
 *   and are judged parameter by parameter, as before.
 *
 * So the result is identical to the per-parameter form (test/search/date-window-oracle.test.ts
 * compares them over random data on both databases).
 */
import type { SearchParamDef } from '../definitions/registry.js';
import { searchParam } from '../definitions/registry.js';
import { bind, compileParam, datePredicate, nextAlias, type CompileCtx } from './compile.js';
import { dateRange } from './normalize.js';
import { splitPrefix, type ParamNode } from './parse.js';

const DAY_MS = 86_400_000;
/** The longest span of span classes 0–2 (011-date-span-class.sql's CASE); class 3 is unbounded. */
export const DATE_SPAN_CLASSES: readonly number[] = [DAY_MS, 31 * DAY_MS, 366 * DAY_MS];

/**
 * What a condition implies about a matching row's [low, high), in epoch ms: low ≥ lowGe, low < lowLt,
 * high > highGt, high ≤ highLe (undefined: no bound). Only ever looser than the condition itself.
 */
export interface DateBounds {
  lowGe?: number;
  lowLt?: number;
  highGt?: number;
  highLe?: number;
}

/** The bounds one search value implies, from the prefix semantics `datePredicate` implements. */
export function valueBounds(raw: string): DateBounds | null {
  const [prefix, value] = splitPrefix(raw);
  const range = dateRange(value);
  if (!range) return null;
  const lo = range.low.getTime();
  const hi = range.high.getTime();
  switch (prefix) {
    case 'eq': return { lowGe: lo, highLe: hi };
    case 'ne': return {};
    case 'gt': return { highGt: hi };
    case 'ge': return { highGt: lo };
    case 'lt': return { lowLt: lo };
    case 'le': return { lowLt: hi };
    case 'sa': return { lowGe: hi };
    case 'eb': return { highLe: lo };
    default: return { lowLt: hi, highGt: lo }; // ap
  }
}

const pick = (a: number | undefined, b: number | undefined, f: (x: number, y: number) => number) => (a === undefined ? b : b === undefined ? a : f(a, b));

/** Both conditions hold: the tighter bound of each kind. */
export function andBounds(a: DateBounds, b: DateBounds): DateBounds {
  return { lowGe: pick(a.lowGe, b.lowGe, Math.max), lowLt: pick(a.lowLt, b.lowLt, Math.min), highGt: pick(a.highGt, b.highGt, Math.max), highLe: pick(a.highLe, b.highLe, Math.min) };
}

/** Either condition holds: a bound only where both have one, the looser. */
export function orBounds(a: DateBounds, b: DateBounds): DateBounds {
  const both = (x: number | undefined, y: number | undefined, f: (x: number, y: number) => number) => (x === undefined || y === undefined ? undefined : f(x, y));
  return { lowGe: both(a.lowGe, b.lowGe, Math.min), lowLt: both(a.lowLt, b.lowLt, Math.max), highGt: both(a.highGt, b.highGt, Math.min), highLe: both(a.highLe, b.highLe, Math.max) };
}

/**
 * Per span class, the range of `low` a matching row can have: [from, to] (undefined: open). For
 * classes 0–2, 0 ≤ high − low ≤ S, so high > highGt gives low > highGt − S and high ≤ highLe gives
 * low ≤ highLe. A window is when every bounded class gets both ends.
 */
export function classRanges(b: DateBounds): Array<{ from?: number; to?: number }> | null {
  const ranges = DATE_SPAN_CLASSES.map((span) => ({ from: pick(b.lowGe, b.highGt === undefined ? undefined : b.highGt - span, Math.max), to: pick(b.lowLt, b.highLe, Math.min) }));
  if (ranges.some((r) => r.from === undefined || r.to === undefined)) return null;
  return [...ranges, { from: b.lowGe, to: b.lowLt }];
}

/** A date parameter of `type` that can join a window: plain values, no modifier, no chain. */
function windowDef(type: string, node: ParamNode): SearchParamDef | null {
  if (node.modifier !== undefined || node.chain.length > 0 || node.code.startsWith('_')) return null;
  const def = searchParam(type, node.code);
  return def?.type === 'date' && def.expression ? def : null;
}

/**
 * The search's parameters in order, with the date parameters of one code that together form a
 * window gathered into one group (at the place of the first). Everything else stays a single node.
 */
export function groupDateWindows(type: string, params: readonly ParamNode[]): Array<ParamNode | ParamNode[]> {
  const byCode = new Map<string, ParamNode[]>();
  for (const p of params) if (windowDef(type, p)) byCode.set(p.code, [...(byCode.get(p.code) ?? []), p]);
  const windows = new Set<string>();
  for (const [code, nodes] of byCode) {
    const bounds = nodes.map(nodeBounds);
    if (bounds.some((b) => b === null)) continue; // an invalid value: compiled alone, it says what is wrong
    // One parameter alone (`eq`, `ap`) stays one subquery: on small PGlite databases planning four arms cost
    // more than it saved (test/search/fuzz.test.ts ran a third of its queries); the cliff is the two-bound window.
    if (nodes.length < 2) continue;
    if (classRanges((bounds as DateBounds[]).reduce(andBounds, {}))) windows.add(code);
  }
  const out: Array<ParamNode | ParamNode[]> = [];
  const placed = new Set<string>();
  for (const p of params) {
    if (!windowDef(type, p) || !windows.has(p.code)) out.push(p);
    else if (!placed.has(p.code)) {
      placed.add(p.code);
      out.push(byCode.get(p.code)!);
    }
  }
  return out;
}

function nodeBounds(node: ParamNode): DateBounds | null {
  const all = node.values.map(valueBounds);
  if (all.length === 0 || all.some((b) => b === null)) return null;
  return (all as DateBounds[]).reduce((a, b) => orBounds(a, b));
}

/** A bound as PostgreSQL reads it; outside years 1–9999 (no ISO text there) the open end, which is looser. */
const at = (ms: number, open: '-infinity' | 'infinity'): string => {
  const d = new Date(ms);
  return d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999 ? open : d.toISOString();
};

/**
 * `alias.seq IN (…)` for a group of date parameters of one code (from `groupDateWindows`): one arm per
 * span class over `sp_date_window`, plus, when there are several parameters, the multi-valued versions
 * judged per parameter. A group that is no window (never from groupDateWindows) compiles as before.
 */
export function dateWindowPredicate(type: string, nodes: readonly ParamNode[], alias: string, ctx: CompileCtx): string {
  const def = windowDef(type, nodes[0]!);
  const bounds = nodes.map(nodeBounds);
  const ranges = def && !bounds.some((b) => b === null) ? classRanges((bounds as DateBounds[]).reduce(andBounds, {})) : null;
  if (!def || !ranges) return nodes.map((n) => compileParam(type, n, alias, ctx)).join(' AND ');
  const w = nextAlias('w');
  const t = bind(ctx, type);
  const code = bind(ctx, def.code);
  // On one row, exactly datePredicate's conditions: each parameter's values ORed, the parameters ANDed.
  const condition = (n: ParamNode, row: string) => `(${n.values.map((v) => datePredicate(`${row}.low`, `${row}.high`, v, ctx, n.raw)).join(' OR ')})`;
  const rowCondition = nodes.map((n) => condition(n, w)).join(' AND ');
  const arms = ranges.map((r, k) => {
    const from = r.from === undefined ? '' : ` AND ${w}.low >= ${bind(ctx, at(r.from, '-infinity'))}::timestamptz`;
    const to = r.to === undefined ? '' : ` AND ${w}.low <= ${bind(ctx, at(r.to, 'infinity'))}::timestamptz`;
    return `SELECT ${w}.seq FROM sp_date ${w} WHERE ${w}.resource_type = ${t} AND ${w}.code = ${code} AND ${w}.span_class = ${k}${from}${to} AND ${rowCondition}`;
  });
  if (nodes.length > 1) {
    // Versions with several values of the parameter: each parameter may be met by another value.
    const m = nextAlias('wm');
    const each = nodes.map((n) => {
      const x = nextAlias('wx');
      return `EXISTS (SELECT 1 FROM sp_date ${x} WHERE ${x}.seq = ${m}.seq AND ${x}.code = ${code} AND ${condition(n, x)})`;
    });
    arms.push(`SELECT ${m}.seq FROM sp_date_multi ${m} WHERE ${m}.resource_type = ${t} AND ${m}.code = ${code} AND ${each.join(' AND ')}`);
  }
  return `${alias}.seq IN (${arms.join(' UNION ALL ')})`;
}
