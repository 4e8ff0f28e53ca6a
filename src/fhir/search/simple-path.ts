/**
 * A direct evaluator for the plain SearchParameter expressions that make up most of R4's
 * (`Observation.code`, `Patient.name.given`, `(Observation.value as Quantity) | …`): a union of
 * member paths, each optionally cast with `as Type` or `ofType(Type)` (both item by item). Extracting index rows runs every parameter of a
 * type on every write, and fhirpath.js's interpreter costs about a millisecond per resource, the
 * largest part of a bulk write (issue 11 §4). Anything else (`where`, functions, `resolve`) is left
 * to fhirpath.js. Navigation follows fhirpath.js's R4 model (choice types, types defined elsewhere)
 * and mirrors its results for the same expression with `as` cast item by item (perItemCasts); a test compares
 * both on every parameter of every resource of the Synthea and demo data (test/search/simple-path.test.ts).
 */
import r4 from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from 'fhir/r4';

interface Model {
  choiceTypePaths: Record<string, string[]>;
  pathsDefinedElsewhere: Record<string, string>;
  path2Type: Record<string, string>;
}
const model = r4 as unknown as Model;

interface Step {
  name: string;
  /** Choice element (`value[x]`): the type suffixes of its JSON keys, in the model's order. */
  choice: string[] | null;
  /** The choice's JSON keys (`valueQuantity`, …), in the same order. */
  keys?: string[];
}

interface Term {
  /** `Resource`/`DomainResource` (any type) or the resource type the path starts from. */
  root: string;
  steps: Step[];
  /** `(path as T)`: the suffix of T's key on the last (choice) step. */
  as: string | null;
  /** `(path as T).text`: members of T navigated after the cast (no choices among them). */
  tail: Step[];
  /**
   * A cast term as plain steps: `(Observation.value as Quantity)` reads only `valueQuantity`, so it
   * is navigated as `Observation.valueQuantity` (same values, same order; no type suffixes to carry).
   */
  plain: Step[] | null;
}

export type SimpleEvaluator = (resource: Resource) => unknown[];

const IDENT = /^[A-Za-z][A-Za-z0-9]*$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The evaluator of `expression`, or null when it is not a plain union of paths this module knows. */
export function compileSimplePath(expression: string): SimpleEvaluator | null {
  const terms = compileTerms(expression);
  if (!terms) return null;
  return (resource) => {
    const out: unknown[] = [];
    for (const term of terms) out.push(...evaluateTerm(term, resource));
    return terms.length > 1 ? distinct(out) : out;
  };
}

function compileTerms(expression: string): Term[] | null {
  const terms: Term[] = [];
  for (const raw of expression.split('|')) {
    const term = compileTerm(raw.trim());
    if (!term) return null;
    terms.push(term);
  }
  return terms.length > 0 ? terms : null;
}

/** A plain path compiled for resources of one type (`compileSimplePathFor`). */
export interface TypedSimplePath {
  /** The same values as `compileSimplePath(expression)` gives on a resource of that type. */
  evaluate: SimpleEvaluator;
  /**
   * The resource's own keys the path starts from (`code`; `valueQuantity`, `valueString`… for a
   * choice): when none of them holds a value, the result is empty and need not be computed.
   */
  keys: readonly string[];
}

/**
 * `compileSimplePath` for resources of `type` only, which the write path knows before it evaluates:
 * the terms rooted at other types (always empty on this one) are dropped, and the keys the rest
 * start from are returned so a caller can skip a parameter whose elements are all absent. Extracting
 * index rows runs every parameter of a type (34 on an Observation) on every write, and most find
 * nothing (issue 11 §4). A union still removes duplicates when the expression had several terms.
 */
export function compileSimplePathFor(expression: string, type: string): TypedSimplePath | null {
  const all = compileTerms(expression);
  if (!all) return null;
  const terms = all.filter((t) => t.root === 'Resource' || t.root === 'DomainResource' || t.root === type);
  const union = all.length > 1;
  const keys = [...new Set(terms.flatMap((t) => firstKeys(t)))];
  if (terms.length === 0) return { evaluate: () => [], keys };
  if (terms.length === 1) {
    const term = terms[0]!;
    return { evaluate: (resource) => (union ? distinct(evaluateFrom(term, resource)) : evaluateFrom(term, resource)), keys };
  }
  return {
    evaluate: (resource) => {
      const out: unknown[] = [];
      for (const term of terms) for (const v of evaluateFrom(term, resource)) out.push(v);
      return distinct(out);
    },
    keys,
  };
}

/** The JSON keys a term reads on the node it starts from. */
function firstKeys(term: Term): string[] {
  const first = term.steps[0]!;
  return first.choice ? first.keys! : [first.name];
}

/** Whether any of `keys` holds a value on `node` (a key with only its `_` twin holds none: paths never read it). */
export function hasAnyKey(node: unknown, keys: readonly string[]): boolean {
  if (!isObj(node)) return false;
  for (let i = 0; i < keys.length; i++) {
    const v = node[keys[i]!];
    if (v !== undefined && v !== null) return true;
  }
  return false;
}

function compileTerm(text: string): Term | null {
  let path = text;
  let as: string | null = null;
  let after = '';
  const cast = /^(?:\(\s*([A-Za-z0-9.]+)\s+as\s+([A-Za-z]+)\s*\)|([A-Za-z0-9.]+)\.ofType\(\s*([A-Za-z]+)\s*\))((?:\.[A-Za-z][A-Za-z0-9]*)*)$/.exec(text);
  if (cast) [path, as, after] = [cast[1] ?? cast[3]!, cast[2] ?? cast[4]!, cast[5] ?? ''];
  const parts = path!.split('.');
  if (!parts.every((p) => IDENT.test(p)) || parts.length < 2) return null;
  const [root, ...names] = parts as [string, ...string[]];
  let at = root;
  const steps: Step[] = [];
  for (const [i, name] of names.entries()) {
    const child = `${at}.${name}`;
    const resolved = model.pathsDefinedElsewhere[child] ?? child;
    const choice = model.choiceTypePaths[resolved];
    if (choice) {
      // A choice decides the type only per value: it must be the last step.
      if (i !== names.length - 1) return null;
      steps.push({ name, choice, keys: choice.map((t) => `${name}${t}`) });
      continue;
    }
    const type = model.path2Type[resolved];
    if (!type) return null;
    steps.push({ name, choice: null });
    at = type === 'BackboneElement' || type === 'Element' ? resolved : type;
  }
  let suffix: string | null = null;
  if (as !== null) {
    const last = steps[steps.length - 1]!;
    suffix = as.charAt(0).toUpperCase() + as.slice(1);
    if (!last.choice?.includes(suffix)) return null;
  }
  const tail: Step[] = [];
  let type = as;
  for (const name of after.split('.').slice(1)) {
    const next = model.path2Type[`${type}.${name}`];
    if (!next || model.choiceTypePaths[`${type}.${name}`]) return null;
    tail.push({ name, choice: null });
    type = next === 'BackboneElement' || next === 'Element' ? `${type}.${name}` : next;
  }
  return withPlain({ root, steps, as: suffix, tail, plain: null });
}

/** `term` with `plain` set for its steps (after the steps changed, e.g. made relative). */
function withPlain(term: Term): Term {
  const last = term.steps[term.steps.length - 1];
  if (term.as === null || !last?.choice) return { ...term, plain: null };
  const key = last.keys![last.choice.indexOf(term.as)]!;
  return { ...term, plain: [...term.steps.slice(0, -1), { name: key, choice: null }, ...term.tail] };
}

/** A composite's elements: the nodes it ranges over, with their model path (`Observation.component`). */
export interface PathNode {
  path: string;
  data: unknown;
}

/**
 * A composite SearchParameter's element expression (`Observation | Observation.component`) as a
 * union of plain paths without choices or casts, or null. Nodes are returned as fhirpath.js returns
 * them with `resolveInternalTypes: false` (the JSON and its model path), in the same order.
 */
/** The model paths of a composite's element expression (`Observation`, `Observation.component`), or null when not plain. */
export function elementPaths(expression: string): string[] | null {
  if (!compileElementPaths(expression)) return null;
  return expression.split('|').map((raw) => raw.trim());
}

export function compileElementPaths(expression: string): ((resource: Resource) => PathNode[]) | null {
  const terms: Array<{ path: string; term: Term | null }> = [];
  for (const raw of expression.split('|')) {
    const path = raw.trim();
    if (IDENT.test(path)) {
      terms.push({ path, term: null }); // the resource itself
      continue;
    }
    const term = compileTerm(path);
    if (!term || term.as !== null || term.steps.some((st) => st.choice)) return null;
    terms.push({ path, term });
  }
  if (terms.length === 0) return null;
  return (resource) => {
    const out: PathNode[] = [];
    for (const { path, term } of terms) {
      if (!term) {
        if (path === resource.resourceType) out.push({ path, data: resource });
        continue;
      }
      for (const data of evaluateTerm(term, resource)) out.push({ path, data });
    }
    if (terms.length < 2) return out;
    // FHIRPath `|` removes duplicates by value.
    const kept = new Set(distinct(out.map((n) => n.data)));
    return out.filter((n) => kept.has(n.data));
  };
}

/**
 * A composite's component expression (`code`, `value.as(Quantity) | value.as(Range)`) relative to
 * an element at model path `base`, or null when it is not plain (`%resource…`: fhirpath.js).
 */
export function compileRelativePath(base: string, expression: string): ((data: unknown) => unknown[]) | null {
  return compileRelativePathWithKeys(base, expression)?.evaluate ?? null;
}

/** `compileRelativePath` and the element's keys its terms start from (see `TypedSimplePath.keys`). */
export function compileRelativePathWithKeys(base: string, expression: string): { evaluate: (data: unknown) => unknown[]; keys: readonly string[] } | null {
  const depth = base.split('.').length - 1;
  const terms: Term[] = [];
  for (const raw of expression.split('|')) {
    const text = raw.trim();
    const cast = /^([A-Za-z0-9.]+)\.as\(\s*([A-Za-z]+)\s*\)$/.exec(text);
    const term = compileTerm(cast ? `(${base}.${cast[1]} as ${cast[2]})` : `${base}.${text}`);
    if (!term) return null;
    terms.push(withPlain({ ...term, steps: term.steps.slice(depth) }));
  }
  if (terms.length === 0 || terms.some((t) => t.steps.length === 0)) return null;
  const keys = [...new Set(terms.flatMap((t) => firstKeys(t)))];
  if (terms.length === 1) return { evaluate: (data) => evaluateFrom(terms[0]!, data), keys };
  return {
    evaluate: (data) => {
      const out: unknown[] = [];
      for (const term of terms) for (const v of evaluateFrom(term, data)) out.push(v);
      return distinct(out);
    },
    keys,
  };
}

function evaluateTerm(term: Term, resource: Resource): unknown[] {
  if (term.root !== 'Resource' && term.root !== 'DomainResource' && term.root !== resource.resourceType) return [];
  return evaluateFrom(term, resource);
}

function evaluateFrom(term: Term, start: unknown): unknown[] {
  // Plain loops over precomputed keys: this runs for every parameter of every resource written.
  if (term.as === null) return navigate(term.steps, start);
  if (term.plain) return navigate(term.plain, start);
  let nodes: unknown[] = [start];
  let suffixes: Array<string | null> = [];
  for (const step of term.steps) {
    const next: unknown[] = [];
    const nextSuffixes: Array<string | null> = [];
    for (const node of nodes) {
      if (!isObj(node)) continue;
      if (step.choice) {
        const keys = step.keys!;
        for (let j = 0; j < keys.length; j++) collect(node[keys[j]!], step.choice[j]!, next, nextSuffixes);
      } else collect(node[step.name], null, next, nextSuffixes);
    }
    nodes = next;
    suffixes = nextSuffixes;
  }
  if (term.as === null) return nodes;
  // Cast item by item (`ofType`, perItemCasts in expressions.ts): a blood pressure's two component
  // values are both indexed, where FHIRPath's `as` on two items fails the whole expression.
  let cast = nodes.filter((_, i) => suffixes[i] === term.as);
  for (const step of term.tail) {
    const next: unknown[] = [];
    for (const node of cast) if (isObj(node)) collect(node[step.name], null, next, []);
    cast = next;
  }
  return cast;
}

/** `evaluateFrom` without a cast: no type suffixes to track, and no arrays for steps that find nothing. */
function navigate(steps: readonly Step[], start: unknown): unknown[] {
  let nodes: unknown[] = [start];
  for (let s = 0; s < steps.length; s++) {
    const step = steps[s]!;
    const next: unknown[] = [];
    for (let n = 0; n < nodes.length; n++) {
      const node = nodes[n];
      if (!isObj(node)) continue;
      if (step.choice) {
        const keys = step.keys!;
        for (let j = 0; j < keys.length; j++) append(node[keys[j]!], next);
      } else append(node[step.name], next);
    }
    if (next.length === 0) return next;
    nodes = next;
  }
  return nodes;
}

function append(value: unknown, into: unknown[]): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (value[i] !== undefined && value[i] !== null) into.push(value[i]);
  } else into.push(value);
}

function collect(value: unknown, suffix: string | null, into: unknown[], suffixes: Array<string | null>): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const v of value) {
      if (v === undefined || v === null) continue;
      into.push(v);
      suffixes.push(suffix);
    }
  } else {
    into.push(value);
    suffixes.push(suffix);
  }
}

/** FHIRPath `|` removes duplicates (by value). */
function distinct(values: unknown[]): unknown[] {
  if (values.length < 2) return values;
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = typeof v === 'object' ? JSON.stringify(v) : `${typeof v}:${String(v)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
