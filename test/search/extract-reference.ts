/**
 * The reference for index extraction (test/search/extract-oracle.test.ts): the extractor as it was
 * before the write path was tuned (issue 11 §4), with every SearchParameter expression evaluated by
 * fhirpath.js (no direct paths, no key gates, no per-type plans) and every row built and
 * de-duplicated the plain way, and the index columns as JS arrays that the `pg` driver serialises
 * itself. Deliberately slow and obvious: a faster extractor must give exactly these rows.
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { createRequire } from 'node:module';
import type { Resource } from 'fhir/r4';
import { searchParam, searchParamsFor } from '../../src/fhir/definitions/registry.js';
import { compiledComposite, perItemCasts, stripResolve } from '../../src/fhir/search/expressions.js';
import type { IndexRows } from '../../src/fhir/search/extract.js';
import type { VersionRows } from '../../src/fhir/search/index-writer.js';
import { dateRange, normalizeString } from '../../src/fhir/search/normalize.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

const compiled = new Map<string, ((r: unknown) => unknown[]) | null>();
function evaluator(type: string, code: string): ((r: unknown) => unknown[]) | null {
  const key = `${type}.${code}`;
  if (!compiled.has(key)) {
    const def = searchParam(type, code);
    let fn: ((r: unknown) => unknown[]) | null = null;
    try {
      if (def?.expression) fn = fhirpath.compile(perItemCasts(stripResolve(def.expression).expression), r4 as never, { resolveInternalTypes: true }) as unknown as (r: unknown) => unknown[];
    } catch {
      fn = null;
    }
    compiled.set(key, fn);
  }
  return compiled.get(key)!;
}

const values = (type: string, code: string, r: unknown): unknown[] => {
  const fn = evaluator(type, code);
  try {
    return fn ? fn(r).filter((v) => v !== null && v !== undefined) : [];
  } catch {
    return [];
  }
};

export function referenceIndexRows(resource: Resource, only?: ReadonlySet<string>): IndexRows {
  const rows: IndexRows = { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
  const type = resource.resourceType;
  for (const def of searchParamsFor(type).values()) {
    if (def.type === 'special' || def.code === '_id' || def.code === '_lastUpdated') continue;
    if (only && !only.has(def.code)) continue;
    if (def.type === 'composite') {
      const composite = compiledComposite(type, def.code, { direct: false });
      if (!composite) continue;
      composite.elements(resource).forEach((element, ordinal) => {
        const own: IndexRows = { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
        for (const [k, component] of composite.components.entries()) {
          const list = own[component.type as keyof IndexRows] as unknown[] | undefined;
          if (!list) return;
          const before = list.length;
          for (const v of component.evaluate(element, resource)) addValue(own, component.type, `${def.code}$${k}`, v, null);
          if (list.length === before) return;
        }
        for (const key of Object.keys(own) as Array<keyof IndexRows>) for (const row of own[key]) (rows[key] as Array<typeof row>).push({ ...row, element: ordinal });
      });
      continue;
    }
    if (!evaluator(type, def.code)) continue;
    const targets = stripResolve(def.expression!).targets;
    for (const v of values(type, def.code, resource)) addValue(rows, def.type, def.code, v, targets);
  }
  const uniq = <T extends object>(list: T[]) => {
    const seen = new Set<string>();
    return list.filter((r) => {
      const k = Object.values(r).map((v) => (v === null || v === undefined ? '\u0001' : String(v))).join('\u0000');
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  return {
    token: uniq(rows.token), string: uniq(rows.string), reference: uniq(rows.reference), date: uniq(rows.date),
    number: uniq(rows.number), quantity: uniq(rows.quantity), uri: uniq(rows.uri),
  };
}

function addValue(rows: IndexRows, type: string, code: string, v: unknown, targets: string[] | null): void {
  if (type === 'token') {
    if (typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number') return void rows.token.push({ code, system: null, value: String(v), text: null });
    if (!isObj(v)) return;
    if (Array.isArray(v.coding) || 'text' in v) {
      const codings = ((v.coding as Obj[] | undefined) ?? []).map((c) => ({ code, system: str(c.system), value: str(c.code), text: textOf(str(c.display)) }));
      rows.token.push(...codings);
      // The text's own row only when no coding with a system or code has the same normalised text (:text finds it there).
      const text = str(v.text) ? textOf(v.text as string) : null;
      if (text !== null && !codings.some((c) => c.text === text && (c.system !== null || c.value !== null))) rows.token.push({ code, system: null, value: null, text });
      return;
    }
    if ('code' in v || 'display' in v) return void rows.token.push({ code, system: str(v.system), value: str(v.code), text: textOf(str(v.display)) });
    if ('value' in v) {
      rows.token.push({ code, system: str(v.system), value: str(v.value), text: null });
      const t = isObj(v.type) ? ((v.type.coding as Obj[] | undefined) ?? []) : [];
      for (const c of t) if (str(c.code) && str(v.value)) rows.token.push({ code: `${code}:of-type`, system: str(c.system), value: `${c.code}|${v.value}`, text: null });
    }
  } else if (type === 'string') {
    const push = (s: unknown) => {
      if (typeof s === 'string' && s.trim()) rows.string.push({ code, norm: slowNormalize(s), value: s });
    };
    if (typeof v === 'string') return push(v);
    if (!isObj(v)) return;
    for (const key of ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country', 'value', 'display']) {
      const part = v[key];
      if (Array.isArray(part)) part.forEach(push);
      else push(part);
    }
  } else if (type === 'reference') {
    if (typeof v === 'string') return void rows.reference.push({ code, targetType: null, targetId: null, url: v, identSystem: null, identValue: null });
    if (!isObj(v)) return;
    const ref = str(v.reference);
    const ident = isObj(v.identifier) ? v.identifier : null;
    const m = ref ? /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref) : null;
    if (targets && m && !targets.includes(m[1]!)) return;
    if (!ref && !ident) return;
    rows.reference.push({ code, targetType: m?.[1] ?? null, targetId: m?.[2] ?? null, url: ref, identSystem: ident ? str(ident.system) : null, identValue: ident ? str(ident.value) : null });
  } else if (type === 'date') {
    const push = (low: string | null, high: string | null) => {
      const lo = low ? dateRange(low) : null;
      const hi = high ? dateRange(high) : null;
      if (!lo && !hi) return;
      rows.date.push({ code, low: lo ? lo.low.toISOString() : '-infinity', high: hi ? hi.high.toISOString() : lo ? lo.high.toISOString() : 'infinity' });
    };
    if (typeof v === 'string') return push(v, v);
    if (!isObj(v)) return;
    if ('start' in v || 'end' in v) {
      // Period: an open end reaches the end of time.
      const lo = str(v.start) ? dateRange(v.start as string) : null;
      const hi = str(v.end) ? dateRange(v.end as string) : null;
      if (!lo && !hi) return;
      rows.date.push({ code, low: lo ? lo.low.toISOString() : '-infinity', high: hi ? hi.high.toISOString() : 'infinity' });
      return;
    }
    if (Array.isArray(v.event)) for (const e of v.event) if (typeof e === 'string') push(e, e);
  } else if (type === 'number') {
    if (typeof v === 'number') rows.number.push({ code, value: v });
  } else if (type === 'quantity') {
    if (!isObj(v) || typeof v.value !== 'number') return;
    rows.quantity.push({ code, value: v.value, system: str(v.system), unit: str(v.code) ?? str(v.unit) });
    if (str(v.unit) && str(v.code) && v.unit !== v.code) rows.quantity.push({ code, value: v.value, system: null, unit: v.unit as string });
  } else if (type === 'uri') {
    if (str(v)) rows.uri.push({ code, value: v as string });
  }
}

const textOf = (s: string | null): string | null => (s ? slowNormalize(s) : null);

/** normalize.ts's folding without its ASCII shortcut. */
const SPECIAL: Record<string, string> = { ø: 'o', æ: 'ae', å: 'a', ß: 'ss', œ: 'oe', đ: 'd', ł: 'l', þ: 'th' };
function slowNormalize(value: string): string {
  const folded = value.toLowerCase().replace(/[øæåßœđłþ]/g, (c) => SPECIAL[c]!).normalize('NFD').replace(/[\u0300-\u036f]/g, '').trim();
  if (folded !== normalizeString(value)) throw new Error(`normalizeString(${JSON.stringify(value)}) differs from the folding`);
  return folded;
}

/** The index statement's bound columns as `pg` serialises JS arrays (pg/lib/utils.js prepareValue). */
export function referenceColumns(list: readonly VersionRows[], seqOwnsColumn: boolean): string[] {
  const out: string[] = [];
  const fields: Record<keyof IndexRows, string[]> = {
    token: ['code', 'system', 'value', 'text'], string: ['code', 'norm', 'value'],
    reference: ['code', 'targetType', 'targetId', 'url', 'identSystem', 'identValue'], date: ['code', 'low', 'high'],
    number: ['code', 'value'], quantity: ['code', 'value', 'system', 'unit'], uri: ['code', 'value'],
  };
  const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): string };
  for (const key of Object.keys(fields) as Array<keyof IndexRows>) {
    const rows = list.flatMap((x) => (x.rows[key] as Array<Record<string, unknown>>).map((r) => ({ r, x })));
    if (rows.length === 0) continue;
    const cols: unknown[][] = [rows.map(({ x }) => x.type), rows.map(({ x }) => x.id)];
    if (seqOwnsColumn) cols.push(rows.map(({ x }) => x.seq));
    for (const f of fields[key]) cols.push(rows.map(({ r }) => r[f]));
    cols.push(rows.map(({ r }) => r.element ?? null));
    out.push(...cols.map((c) => prepareValue(c)));
  }
  return out;
}

/** compartments.ts's `patientCompartmentsOf` with fhirpath.js: the Patients its compartment parameters reference. */
export function referenceCompartments(resource: Resource, params: readonly string[]): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  const ids = new Set<string>();
  for (const code of params) {
    for (const v of values(resource.resourceType, code, resource)) {
      const ref = (v as { reference?: unknown } | null)?.reference;
      if (typeof ref !== 'string' || /^[a-z][a-z0-9+.-]*:/i.test(ref)) continue;
      const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
      if (m?.[1] === 'Patient') ids.add(m[2]!);
    }
  }
  return [...ids].sort();
}
