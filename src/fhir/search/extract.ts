/**
 * Resource → search index rows, one list per parameter type, from the official SearchParameter
 * FHIRPath expressions. JSONB stays the source of truth; these rows exist so that search can be
 * compiled into indexed SQL instead of scanning documents.
 */
import type { Resource } from 'fhir/r4';
import { searchParamsFor } from '../definitions/registry.js';
import { compiledComposite, typedParam, type CompiledComposite, type TypedParam } from './expressions.js';
import { dateRangeIso, normalizeString } from './normalize.js';
import { unionParams } from './row-sources.js';
import { hasAnyKey } from './simple-path.js';

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

/**
 * The parameters of a type that index anything, compiled once per type (the write path runs them
 * all): plain paths with the keys they start from, so that a parameter whose elements the resource
 * lacks costs one lookup per key (an Observation has 34 parameters and 8 composites; a reading uses
 * a dozen), and each composite's components compiled per element path.
 */
type Plan = Array<{ code: string; param: TypedParam | null; composite: CompiledComposite | null; parts: string[] }>;
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
        if (composite) plan.push({ code: def.code, param: null, composite, parts: composite.components.map((_, k) => `${def.code}$${k}`) });
      } else {
        const param = typedParam(type, def.code);
        if (param) plan.push({ code: def.code, param, composite: null, parts: [] });
      }
    }
    plans.set(type, plan);
  }
  return plan;
}

/** `only`: just these parameters' rows (the access check's slice queries name a few; slices.ts). */
export function extractIndexRows(resource: Resource, only?: ReadonlySet<string>): IndexRows {
  return rowsOf(resource, planFor(resource.resourceType), only);
}

/**
 * The rows the database keeps for a version: every parameter's but those of parameters that are the
 * union of others (row-sources.ts), whose searches read their sources' rows.
 */
export function storedIndexRows(resource: Resource): IndexRows {
  return rowsOf(resource, storedPlanFor(resource.resourceType));
}

const storedPlans = new Map<string, Plan>();

function storedPlanFor(type: string): Plan {
  let plan = storedPlans.get(type);
  if (!plan) {
    const unions = unionParams(type);
    plan = planFor(type).filter((p) => !unions.has(p.code));
    storedPlans.set(type, plan);
  }
  return plan;
}

function rowsOf(resource: Resource, plan: Plan, only?: ReadonlySet<string>): IndexRows {
  const rows: IndexRows = { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
  for (const { code, param, composite, parts } of plan) {
    if (only && !only.has(code)) continue;
    if (composite) addComposite(rows, resource, composite, parts);
    else if (param && (param.keys === null || hasAnyKey(resource, param.keys))) {
      for (const v of param.evaluate(resource)) addValue(rows, param.type, code, v, param.resolveTargets, undefined);
    }
  }
  return dedupe(rows);
}

/**
 * One row per component value, tagged with the element's ordinal: matching then requires every
 * component to hit the same element (see 004-composite.sql). An element lacking a value for some
 * component gets no rows at all: no composite value could match it, and its rows were most of an
 * Observation's index (the code under code-value-concept, -date and -string of a Quantity
 * reading; issue 11 §4). So `:missing=false` on a composite means every component is there.
 * Every component's values are found first (most elements lack one, and that costs a key lookup);
 * rows are then appended in component order and taken back if a component's values make none.
 */
function addComposite(rows: IndexRows, resource: Resource, composite: CompiledComposite, parts: readonly string[]): void {
  const elements = composite.elements(resource);
  const types = composite.components;
  for (let ordinal = 0; ordinal < elements.length; ordinal++) {
    const element = elements[ordinal]!;
    const components = composite.at(element.path);
    if (!components.every((c) => c.keys === null || hasAnyKey(element.data, c.keys))) continue;
    const values: unknown[][] = [];
    for (const c of components) {
      const found = c.evaluate(element, resource);
      if (found.length === 0) break;
      values.push(found);
    }
    if (values.length < components.length) continue;
    const marks = TABLES.map((t) => rows[t].length);
    let complete = true;
    for (let k = 0; k < values.length && complete; k++) {
      const type = types[k]!.type as keyof IndexRows;
      const list = rows[type] as unknown[] | undefined;
      if (!list) complete = false;
      else {
        const before = list.length;
        for (const v of values[k]!) addValue(rows, type, parts[k]!, v, null, ordinal);
        complete = list.length > before;
      }
    }
    if (!complete) TABLES.forEach((t, i) => (rows[t].length = marks[i]!));
  }
}

const TABLES = ['token', 'string', 'reference', 'date', 'number', 'quantity', 'uri'] as const;

/** `element`: the composite element's ordinal; absent (not null) on ordinary rows. */
function addValue(rows: IndexRows, type: string, code: string, v: unknown, targets: string[] | null, element: number | undefined): void {
  switch (type) {
    case 'token':
      return addToken(rows, code, v, element);
    case 'string':
      return addStrings(rows, code, v, element);
    case 'reference':
      return addReference(rows, code, v, targets, element);
    case 'date':
      return addDate(rows, code, v, element);
    case 'number':
      if (typeof v === 'number') rows.number.push(tag({ code, value: v }, element));
      return;
    case 'quantity':
      return addQuantity(rows, code, v, element);
    case 'uri':
      if (str(v)) rows.uri.push(tag({ code, value: v as string }, element));
      return;
  }
}

/** A composite component row carries its element ordinal last, as the index tables' `element` column. */
function tag<T extends object>(row: T, element: number | undefined): Row<T> {
  if (element !== undefined) (row as Row<T>).element = element;
  return row;
}

function addToken(rows: IndexRows, code: string, v: unknown, element: number | undefined): void {
  if (typeof v === 'boolean') return void rows.token.push(tag({ code, system: null, value: String(v), text: null }, element));
  if (typeof v === 'string' || typeof v === 'number') return void rows.token.push(tag({ code, system: null, value: String(v), text: null }, element));
  if (!isObj(v)) return;
  if (Array.isArray(v.coding) || 'text' in v) {
    // CodeableConcept. Its text gets a row of its own (no system, no value) unless a coding with a
    // system or code already carries the same normalised text: only `:text` reads a row's text, and
    // the coding's row answers it for the same resource, parameter and element (issue 11 §4: a
    // device reading's code text repeats the LOINC display under code, combo-code and the composites).
    const text = str(v.text) ? textOf(v.text as string) : null;
    let repeated = false;
    for (const c of (v.coding as Obj[] | undefined) ?? []) {
      const row = tag({ code, system: str(c.system), value: str(c.code), text: textOf(str(c.display)) }, element);
      if (text !== null && row.text === text && (row.system !== null || row.value !== null)) repeated = true;
      rows.token.push(row);
    }
    if (text !== null && !repeated) rows.token.push(tag({ code, system: null, value: null, text }, element));
    return;
  }
  if ('code' in v || 'display' in v) return void rows.token.push(tag({ code, system: str(v.system), value: str(v.code), text: textOf(str(v.display)) }, element));
  if ('value' in v) {
    // Identifier or ContactPoint; an Identifier's type feeds :of-type as `type-system|type-code|value`.
    rows.token.push(tag({ code, system: str(v.system), value: str(v.value), text: null }, element));
    const t = isObj(v.type) ? ((v.type.coding as Obj[] | undefined) ?? []) : [];
    for (const c of t) if (str(c.code) && str(v.value)) rows.token.push(tag({ code: `${code}:of-type`, system: str(c.system), value: `${c.code}|${v.value}`, text: null }, element));
  }
}

const textOf = (s: string | null): string | null => (s ? normalizeString(s) : null);

const STRING_PARTS = ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country', 'value', 'display'];

function addStrings(rows: IndexRows, code: string, v: unknown, element: number | undefined): void {
  if (typeof v === 'string') return addString(rows, code, v, element);
  if (!isObj(v)) return;
  // HumanName, Address and other complex strings: every part is searchable.
  for (const key of STRING_PARTS) {
    const part = v[key];
    if (Array.isArray(part)) for (const p of part) addString(rows, code, p, element);
    else addString(rows, code, part, element);
  }
}

function addString(rows: IndexRows, code: string, s: unknown, element: number | undefined): void {
  if (typeof s === 'string' && s.trim()) rows.string.push(tag({ code, norm: normalizeString(s), value: s }, element));
}

function addReference(rows: IndexRows, code: string, v: unknown, targets: string[] | null, element: number | undefined): void {
  if (typeof v === 'string') {
    // canonical / uri references
    return void rows.reference.push(tag({ code, targetType: null, targetId: null, url: v, identSystem: null, identValue: null }, element));
  }
  if (!isObj(v)) return;
  const ref = str(v.reference);
  const ident = isObj(v.identifier) ? v.identifier : null;
  const parsed = ref ? parseReference(ref) : null;
  if (targets && parsed?.type && !targets.includes(parsed.type)) return;
  if (!ref && !ident) return;
  rows.reference.push(
    tag(
      {
        code,
        targetType: parsed?.type ?? null,
        targetId: parsed?.id ?? null,
        url: ref,
        identSystem: ident ? str(ident.system) : null,
        identValue: ident ? str(ident.value) : null,
      },
      element,
    ),
  );
}

const REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;
/**
 * Parsed references, remembered: a write names the same few (its patient as subject, patient and
 * performer, its device) in several parameters and compartment checks, and a push repeats them on
 * every sample. The answers are frozen, as they are shared.
 */
const referenceMemo = new Map<string, Readonly<{ type: string; id: string }> | null>();

/** `Patient/1`, `Patient/1/_history/2`, `http://x/fhir/Patient/1` → {Patient, 1}. */
export function parseReference(ref: string): Readonly<{ type: string; id: string }> | null {
  let parsed = referenceMemo.get(ref);
  if (parsed === undefined) {
    const m = REFERENCE.exec(ref);
    parsed = m ? Object.freeze({ type: m[1]!, id: m[2]! }) : null;
    if (ref.length <= 256) {
      if (referenceMemo.size >= 4096) referenceMemo.clear();
      referenceMemo.set(ref, parsed);
    }
  }
  return parsed;
}

/** A date's own range; Postgres' -infinity/infinity keep open ends comparable without a made-up date. */
function addDateValue(rows: IndexRows, code: string, value: string, element: number | undefined): void {
  const range = dateRangeIso(value);
  if (range) rows.date.push(tag({ code, low: range.low, high: range.high }, element));
}

function addDate(rows: IndexRows, code: string, v: unknown, element: number | undefined): void {
  if (typeof v === 'string') return addDateValue(rows, code, v, element);
  if (!isObj(v)) return;
  if ('start' in v || 'end' in v) {
    // Period: an open end means "ongoing", so it reaches the end of time.
    const lo = str(v.start) ? dateRangeIso(v.start as string) : null;
    const hi = str(v.end) ? dateRangeIso(v.end as string) : null;
    if (!lo && !hi) return;
    rows.date.push(tag({ code, low: lo ? lo.low : '-infinity', high: hi ? hi.high : 'infinity' }, element));
    return;
  }
  if (Array.isArray(v.event)) for (const e of v.event) if (typeof e === 'string') addDateValue(rows, code, e, element); // Timing
}

function addQuantity(rows: IndexRows, code: string, v: unknown, element: number | undefined): void {
  if (!isObj(v) || typeof v.value !== 'number') return;
  rows.quantity.push(tag({ code, value: v.value, system: str(v.system), unit: str(v.code) ?? str(v.unit) }, element));
  // Also index the human unit so `value||mg` matches a unit string without a code.
  if (str(v.unit) && str(v.code) && v.unit !== v.code) rows.quantity.push(tag({ code, value: v.value, system: null, unit: v.unit as string }, element));
}

/**
 * Drops repeated rows (a union of paths, a code in two codings). The key is the row's fields in
 * order, null as \u0001, joined by NUL (no FHIR string holds one), the element ordinal last when
 * there is one: built field by field per table, which costs far less than walking `Object.values`.
 */
const f = (v: string | number | null | undefined): string => (v === null || v === undefined ? '\u0001' : String(v));
const el = (r: { element?: number }): string => (r.element === undefined ? '' : `\u0000${r.element}`);
const KEYS: { [K in keyof IndexRows]: (r: IndexRows[K][number]) => string } = {
  token: (r) => `${r.code}\u0000${f(r.system)}\u0000${f(r.value)}\u0000${f(r.text)}${el(r)}`,
  string: (r) => `${r.code}\u0000${f(r.norm)}\u0000${f(r.value)}${el(r)}`,
  reference: (r) => `${r.code}\u0000${f(r.targetType)}\u0000${f(r.targetId)}\u0000${f(r.url)}\u0000${f(r.identSystem)}\u0000${f(r.identValue)}${el(r)}`,
  date: (r) => `${r.code}\u0000${f(r.low)}\u0000${f(r.high)}${el(r)}`,
  number: (r) => `${r.code}\u0000${f(r.value)}${el(r)}`,
  quantity: (r) => `${r.code}\u0000${f(r.value)}\u0000${f(r.system)}\u0000${f(r.unit)}${el(r)}`,
  uri: (r) => `${r.code}\u0000${f(r.value)}${el(r)}`,
};

/** Whether two rows of a table are the same row (null and absent alike, as in `KEYS`). */
const eq = (a: string | number | null | undefined, b: string | number | null | undefined): boolean => a === b || ((a === null || a === undefined) && (b === null || b === undefined));
const SAME: { [K in keyof IndexRows]: (a: IndexRows[K][number], b: IndexRows[K][number]) => boolean } = {
  token: (a, b) => a.code === b.code && eq(a.value, b.value) && eq(a.system, b.system) && eq(a.text, b.text) && a.element === b.element,
  string: (a, b) => a.code === b.code && eq(a.norm, b.norm) && eq(a.value, b.value) && a.element === b.element,
  reference: (a, b) => a.code === b.code && eq(a.url, b.url) && eq(a.targetId, b.targetId) && eq(a.targetType, b.targetType) && eq(a.identSystem, b.identSystem) && eq(a.identValue, b.identValue) && a.element === b.element,
  date: (a, b) => a.code === b.code && eq(a.low, b.low) && eq(a.high, b.high) && a.element === b.element,
  number: (a, b) => a.code === b.code && eq(String(a.value), String(b.value)) && a.element === b.element,
  quantity: (a, b) => a.code === b.code && eq(String(a.value), String(b.value)) && eq(a.system, b.system) && eq(a.unit, b.unit) && a.element === b.element,
  uri: (a, b) => a.code === b.code && eq(a.value, b.value) && a.element === b.element,
};

/** Up to this many rows in a table are compared pairwise (no key strings, no Set: a reading has a dozen). */
const PAIRWISE = 16;

function dedupe(rows: IndexRows): IndexRows {
  for (const table of TABLES) {
    const list = rows[table] as Array<IndexRows[typeof table][number]>;
    if (list.length < 2) continue;
    let kept = 0;
    if (list.length <= PAIRWISE) {
      const same = SAME[table] as (a: IndexRows[typeof table][number], b: IndexRows[typeof table][number]) => boolean;
      for (let i = 0; i < list.length; i++) {
        const row = list[i]!;
        let seen = false;
        for (let j = 0; j < kept && !seen; j++) seen = same(list[j]!, row);
        if (!seen) list[kept++] = row;
      }
    } else {
      const key = KEYS[table] as (r: IndexRows[typeof table][number]) => string;
      const seen = new Set<string>();
      for (let i = 0; i < list.length; i++) {
        const k = key(list[i]!);
        if (seen.has(k)) continue;
        seen.add(k);
        list[kept++] = list[i]!;
      }
    }
    list.length = kept;
  }
  return rows;
}
