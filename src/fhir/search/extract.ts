/**
 * Resource → search index rows, one list per parameter type, from the official SearchParameter
 * FHIRPath expressions. JSONB stays the source of truth; these rows exist so that search can be
 * compiled into indexed SQL instead of scanning documents.
 */
import type { Resource } from 'fhir/r4';
import { searchParamsFor } from '../definitions/registry.js';
import { compiledComposite, compiledParam, type CompiledComposite, type CompiledParam } from './expressions.js';
import { dateRange, normalizeString } from './normalize.js';

/** `element`: ordinal of the composite element a component row came from (null for ordinary rows). */
type Row<T> = T & { element?: number };

export interface IndexRows {
  token: Array<Row<{ code: string; system: string | null; value: string | null; text: string | null }>>;
  string: Array<Row<{ code: string; norm: string; value: string }>>;
  reference: Array<Row<{ code: string; targetType: string | null; targetId: string | null; url: string | null; identSystem: string | null; identValue: string | null }>>;
  date: Array<Row<{ code: string; low: string; high: string }>>;
  number: Array<Row<{ code: string; value: number }>>;
  quantity: Array<Row<{ code: string; value: number; system: string | null; unit: string | null }>>;
  uri: Array<Row<{ code: string; value: string }>>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** `only`: just these parameters' rows (the access check's slice queries name a few; slices.ts). */
/** The parameters of a type that index anything, compiled once (the write path runs them all). */
type Plan = Array<{ code: string; type: string; param: CompiledParam | null; composite: CompiledComposite | null }>;
const plans = new Map<string, Plan>();

function planFor(type: string): Plan {
  let plan = plans.get(type);
  if (!plan) {
    plan = [];
    for (const def of searchParamsFor(type).values()) {
      // `_id` and `_lastUpdated` are searched and sorted on the resource row itself (compile.ts,
      // sort.ts): rows for them would only cost every write two more index inserts.
      if (def.type === 'special' || def.code === '_id' || def.code === '_lastUpdated') continue;
      if (def.type === 'composite') {
        const composite = compiledComposite(type, def.code);
        if (composite) plan.push({ code: def.code, type: def.type, param: null, composite });
      } else {
        const param = compiledParam(type, def.code);
        if (param) plan.push({ code: def.code, type: def.type, param, composite: null });
      }
    }
    plans.set(type, plan);
  }
  return plan;
}

export function extractIndexRows(resource: Resource, only?: ReadonlySet<string>): IndexRows {
  const rows: IndexRows = { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
  for (const { code, type, param, composite } of planFor(resource.resourceType)) {
    if (only && !only.has(code)) continue;
    if (composite) addComposite(rows, resource, code, composite);
    else if (param) for (const v of param.evaluate(resource)) addValue(rows, type, code, v, param.resolveTargets);
  }
  return dedupe(rows);
}

/**
 * One row per component value, tagged with the element's ordinal: matching then requires every
 * component to hit the same element (see 004-composite.sql). An element lacking a value for some
 * component gets no rows at all: no composite value could match it, and its rows were most of an
 * Observation's index (the code under code-value-concept, -date and -string of a Quantity
 * reading; issue 11 §4). So `:missing=false` on a composite means every component is there.
 */
function addComposite(rows: IndexRows, resource: Resource, code: string, composite: CompiledComposite): void {
  composite.elements(resource).forEach((element, ordinal) => {
    const own: IndexRows = { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
    for (const [k, component] of composite.components.entries()) {
      const list = own[component.type as keyof IndexRows] as unknown[] | undefined;
      if (!list) return;
      const before = list.length;
      for (const v of component.evaluate(element, resource)) addValue(own, component.type, `${code}$${k}`, v, null);
      if (list.length === before) return;
    }
    for (const key of Object.keys(own) as Array<keyof IndexRows>) {
      for (const row of own[key]) (rows[key] as Array<typeof row>).push({ ...row, element: ordinal });
    }
  });
}

function addValue(rows: IndexRows, type: string, code: string, v: unknown, targets: string[] | null): void {
  switch (type) {
    case 'token':
      return addToken(rows, code, v);
    case 'string':
      return addStrings(rows, code, v);
    case 'reference':
      return addReference(rows, code, v, targets);
    case 'date':
      return addDate(rows, code, v);
    case 'number':
      if (typeof v === 'number') rows.number.push({ code, value: v });
      return;
    case 'quantity':
      return addQuantity(rows, code, v);
    case 'uri':
      if (str(v)) rows.uri.push({ code, value: v as string });
      return;
  }
}

function addToken(rows: IndexRows, code: string, v: unknown): void {
  if (typeof v === 'boolean') return void rows.token.push({ code, system: null, value: String(v), text: null });
  if (typeof v === 'string' || typeof v === 'number') return void rows.token.push({ code, system: null, value: String(v), text: null });
  if (!isObj(v)) return;
  if (Array.isArray(v.coding) || 'text' in v) {
    // CodeableConcept
    for (const c of (v.coding as Obj[] | undefined) ?? []) rows.token.push({ code, system: str(c.system), value: str(c.code), text: textOf(str(c.display)) });
    if (str(v.text)) rows.token.push({ code, system: null, value: null, text: textOf(v.text as string) });
    return;
  }
  if ('code' in v || 'display' in v) return void rows.token.push({ code, system: str(v.system), value: str(v.code), text: textOf(str(v.display)) });
  if ('value' in v) {
    // Identifier or ContactPoint; an Identifier's type feeds :of-type as `type-system|type-code|value`.
    rows.token.push({ code, system: str(v.system), value: str(v.value), text: null });
    const t = isObj(v.type) ? ((v.type.coding as Obj[] | undefined) ?? []) : [];
    for (const c of t) if (str(c.code) && str(v.value)) rows.token.push({ code: `${code}:of-type`, system: str(c.system), value: `${c.code}|${v.value}`, text: null });
  }
}

const textOf = (s: string | null): string | null => (s ? normalizeString(s) : null);

function addStrings(rows: IndexRows, code: string, v: unknown): void {
  const push = (s: unknown) => {
    if (typeof s === 'string' && s.trim()) rows.string.push({ code, norm: normalizeString(s), value: s });
  };
  if (typeof v === 'string') return push(v);
  if (!isObj(v)) return;
  // HumanName, Address and other complex strings: every part is searchable.
  for (const key of ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country', 'value', 'display']) {
    const part = v[key];
    if (Array.isArray(part)) part.forEach(push);
    else push(part);
  }
}

function addReference(rows: IndexRows, code: string, v: unknown, targets: string[] | null): void {
  if (typeof v === 'string') {
    // canonical / uri references
    return void rows.reference.push({ code, targetType: null, targetId: null, url: v, identSystem: null, identValue: null });
  }
  if (!isObj(v)) return;
  const ref = str(v.reference);
  const ident = isObj(v.identifier) ? v.identifier : null;
  const parsed = ref ? parseReference(ref) : null;
  if (targets && parsed?.type && !targets.includes(parsed.type)) return;
  if (!ref && !ident) return;
  rows.reference.push({
    code,
    targetType: parsed?.type ?? null,
    targetId: parsed?.id ?? null,
    url: ref,
    identSystem: ident ? str(ident.system) : null,
    identValue: ident ? str(ident.value) : null,
  });
}

/** `Patient/1`, `Patient/1/_history/2`, `http://x/fhir/Patient/1` → {Patient, 1}. */
export function parseReference(ref: string): { type: string; id: string } | null {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m ? { type: m[1]!, id: m[2]! } : null;
}

function addDate(rows: IndexRows, code: string, v: unknown): void {
  const push = (low: string | null, high: string | null) => {
    const lo = low ? dateRange(low) : null;
    const hi = high ? dateRange(high) : null;
    if (!lo && !hi) return;
    rows.date.push({ code, low: lo ? lo.low.toISOString() : '-infinity', high: hi ? hi.high.toISOString() : lo ? lo.high.toISOString() : 'infinity' });
  };
  if (typeof v === 'string') return push(v, v);
  if (!isObj(v)) return;
  if ('start' in v || 'end' in v) {
    // Period: an open end means "ongoing", so it reaches the end of time.
    const lo = str(v.start) ? dateRange(v.start as string) : null;
    const hi = str(v.end) ? dateRange(v.end as string) : null;
    if (!lo && !hi) return;
    // Postgres' -infinity/infinity keep open ends comparable without a made-up date.
    rows.date.push({ code, low: lo ? lo.low.toISOString() : '-infinity', high: hi ? hi.high.toISOString() : 'infinity' });
    return;
  }
  if (Array.isArray(v.event)) for (const e of v.event) if (typeof e === 'string') push(e, e); // Timing
}

function addQuantity(rows: IndexRows, code: string, v: unknown): void {
  if (!isObj(v) || typeof v.value !== 'number') return;
  rows.quantity.push({ code, value: v.value, system: str(v.system), unit: str(v.code) ?? str(v.unit) });
  // Also index the human unit so `value||mg` matches a unit string without a code.
  if (str(v.unit) && str(v.code) && v.unit !== v.code) rows.quantity.push({ code, value: v.value, system: null, unit: v.unit as string });
}

function dedupe(rows: IndexRows): IndexRows {
  const uniq = <T extends object>(list: T[]) => {
    if (list.length < 2) return list;
    const seen = new Set<string>();
    return list.filter((r) => {
      // Field values joined by NUL (no FHIR string holds one): a cheaper key than JSON.stringify.
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
